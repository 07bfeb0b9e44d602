"""CLI: python -m orchestration.sample --scale S --seed N --out DIR [--days D] [--start DATE] [-v].

Prints the parameters and one summary line (-v: a line per feed), not a 13-row table in `make run`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from orchestration.sample.generator import clean, generate

KEY_FEEDS = ("orders", "order_items", "events")  # named in the summary line


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m orchestration.sample",
        description="Generate the seeded sample landing zone (all feeds + _manifest.json).",
    )
    p.add_argument("--scale", type=float, default=0.01, help="1 = a year of ~1M orders")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, required=True, help="landing root to write into")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument(
        "--clean", action="store_true", help="first delete OUT's feed folders and manifest"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="one line per feed")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    began = time.perf_counter()
    if args.clean:
        clean(args.out)
    manifest = generate(args.out, args.scale, args.seed, args.days, args.start)
    seconds = time.perf_counter() - began
    out = sys.stdout
    out.write(
        f"sample: scale={args.scale} seed={args.seed} days={args.days} start={args.start} "
        f"-> {args.out}\n"
    )
    rows, files = manifest["rows"], manifest["files"]
    for feed in rows if args.verbose else []:
        out.write(f"  {feed:<24}{rows[feed]:>12,} rows {files[feed]:>6} files\n")
    key = ", ".join(f"{feed} {rows[feed]:,}" for feed in KEY_FEEDS if feed in rows)
    out.write(
        f"  total {sum(rows.values()):,} rows in {sum(files.values())} files of {len(rows)} "
        f"feeds ({key}; -v lists each) in {seconds:.1f} s\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
