"""Measure a one-day incremental dbt build after a full pipeline run (docs/incremental.md).

    LANDING_DIR=<10x landing> WAREHOUSE_PATH=<db> python -m orchestration.cli pipeline  # full
    WAREHOUSE_PATH=<db> python -m tests.dbt.measure_incremental --day 2025-09-15 [--repeat 2]

Each repetition simulates the batch of one business day in the raw tables (tests/dbt/batch_sim)
and materializes the dbt asset alone (no ingest, no GX), which plans the batch from
ops.dbt_build_log; prints the dbt wall time and the slowest nodes of target/run_results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from orchestration import settings
from orchestration.assets.dbt import utc_now
from tests.dbt.batch_sim import simulate_batch
from tests.dbt.dbt_runner import run_dbt_asset


def profile(run_results: Path, top: int = 12) -> str:
    results = json.loads(run_results.read_text())["results"]
    by_kind: dict[str, float] = defaultdict(float)
    for r in results:
        by_kind[r["unique_id"].split(".")[0]] += r["execution_time"]
    lines = [
        "time by node type: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1]))
    ]
    lines += [
        f"  {r['execution_time']:7.2f}s  {r['unique_id']}"
        for r in sorted(results, key=lambda r: -r["execution_time"])[:top]
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--full-first", action="store_true", help="first time a --full-refresh dbt build"
    )
    args = parser.parse_args()
    import duckdb

    warehouse = settings.get().warehouse_path
    target = settings.DBT_PROJECT_DIR / "target"
    if args.full_first:
        seconds = run_dbt_asset(warehouse, full_refresh=True)
        newest = max(target.glob("*/run_results.json"), key=lambda p: p.stat().st_mtime)
        print(f"full-refresh dbt build: {seconds:.1f}s wall")
        print(profile(newest))
        shutil.copy(newest, warehouse.with_suffix(".full.run_results.json"))
    for n in range(args.repeat):
        day = args.day + timedelta(days=n)
        conn = duckdb.connect(str(warehouse))
        try:
            print("batch:", simulate_batch(conn, day, utc_now(), tag=f"m{n}"), flush=True)
        finally:
            conn.close()
        seconds = run_dbt_asset(warehouse)
        newest = max(target.glob("*/run_results.json"), key=lambda p: p.stat().st_mtime)
        print(f"incremental dbt build for business day {day}: {seconds:.1f}s wall")
        print(profile(newest))
        shutil.copy(newest, warehouse.with_suffix(f".incremental{n}.run_results.json"))


if __name__ == "__main__":
    main()
