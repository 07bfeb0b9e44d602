"""`python -m orchestration.spark export|build`: the dbt project on local Spark.

Run it after ingest (`make pipeline` or the Dagster job), which writes the DuckDB warehouse:
  export   write raw.<feed> / raw_replaced.<feed> of WAREHOUSE_PATH as Parquet to SPARK_RAW_DIR
           (default SPARK_DIR/raw)
  build    export, then `dbt build --target spark --full-refresh` (needs `make install-spark`)
Arguments after `--` go to dbt, e.g. `build -- --select marts.sales`.
"""

from __future__ import annotations

import argparse
import sys
import time

from orchestration import settings
from orchestration.spark.build import build, raw_dir
from orchestration.spark.export import export_raw


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.spark", description=__doc__)
    parser.add_argument("command", choices=["export", "build"])
    parser.add_argument("dbt_args", nargs="*", help="after --: arguments for dbt build")
    args = parser.parse_args(argv)
    config = settings.get()
    warehouse, spark_dir = config.warehouse_path, config.spark_dir
    started = time.perf_counter()
    if args.command == "export":
        exported = export_raw(warehouse, raw_dir(spark_dir))
        for table in exported:
            _say(f"  {table.schema}.{table.table:<28} {table.rows:>10,} rows  {table.path}")
        _say(f"exported {len(exported)} tables in {time.perf_counter() - started:.1f}s")
        return 0
    exported, result = build(warehouse, spark_dir, config.all_dbt_vars, args.dbt_args)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    verdict = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    _say(
        f"spark build {verdict}: {len(exported)} raw tables exported, dbt build in "
        f"{time.perf_counter() - started:.1f}s; tables under {spark_dir / 'warehouse'}"
    )
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
