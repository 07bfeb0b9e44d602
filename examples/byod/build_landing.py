"""Map the hand-written shop exports in examples/byod/exports/ into a landing folder.

build_landing.sql turns a Shopify-style order export, a customer export, a product export and a
review app's export into the six feeds they can fill; this writes each as one CSV in the
partition `dt=<export date>`. Adapt the SQL to your exports (docs/your-data.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
FEEDS = ("customers", "products", "orders", "order_items", "payments", "reviews")
EXPORT_DATE = "2025-03-03"  # the last business date the exports cover


def build(exports: Path, out: Path, dt: str) -> dict[str, int]:
    """Write `<out>/<feed>/dt=<dt>/<feed>.csv` for the six feeds; return rows per feed."""
    counts = {}
    with duckdb.connect() as conn:
        conn.execute("set file_search_path = ?", [str(exports)])
        conn.execute((HERE / "build_landing.sql").read_text())
        for feed in FEEDS:
            folder = out / feed / f"dt={dt}"
            folder.mkdir(parents=True, exist_ok=True)
            conn.execute(f"copy {feed} to '{folder / f'{feed}.csv'}' (header)")
            counts[feed] = conn.execute(f"select count(*) from {feed}").fetchone()[0]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "data" / "byod" / "landing")
    out = parser.parse_args().out
    for feed, rows in build(HERE / "exports", out, EXPORT_DATE).items():
        print(f"{feed:<12} {rows:>3} rows -> {out / feed / f'dt={EXPORT_DATE}'}")  # noqa: T201


if __name__ == "__main__":
    main()
