"""Run the dbt asset alone on a warehouse file, and compare the marts of two warehouses.

`python -m tests.dbt.dbt_runner <warehouse.duckdb> [--full-refresh]` is the subprocess the
SIGKILL test kills: the dbt step of the pipeline (batch planned from ops.dbt_build_log, one
`dbt build`, the log row written after it succeeded), without ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings
from orchestration.assets.dbt import build_dbt_assets, dbt_resource
from orchestration.resources import WarehouseResource

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
# Doubles aggregated in a different physical row order (an incremental table vs a freshly built
# one) can differ in the last bits (e.g. an avg of 0.7660714285714285 vs ...286): floating
# columns compare within this relative tolerance, every other column exactly.
REL_TOLERANCE = 1e-9


def run_dbt_asset(warehouse: Path, full_refresh: bool = False) -> float:
    """Materialize every dbt model (the pipeline's dbt step); returns its wall seconds."""
    started = time.perf_counter()
    previous = os.environ.get("WAREHOUSE_PATH")
    try:
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [build_dbt_assets()],
                resources={
                    "dbt": dbt_resource(),
                    "warehouse": WarehouseResource(path=str(warehouse)),
                },
                instance=instance,
                run_config={"ops": {"dbt_models": {"config": {"full_refresh": full_refresh}}}},
            )
        assert result.success
    finally:
        # the asset points WAREHOUSE_PATH at its file for dbt; do not leak it to later tests
        if previous is None:
            os.environ.pop("WAREHOUSE_PATH", None)
        else:
            os.environ["WAREHOUSE_PATH"] = previous
    return time.perf_counter() - started


def mart_grains(manifest_path: Path | None = None) -> dict[str, list[str]]:
    """Each model's grain, from its `unique` / `unique_combination_of_columns` data test."""
    path = manifest_path or settings.DBT_PROJECT_DIR / "target" / "manifest.json"
    manifest = json.loads(path.read_text())
    grains: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        model = (node.get("attached_node") or "").split(".")[-1]
        kwargs = meta.get("kwargs", {})
        if meta.get("name") == "unique_combination_of_columns":
            grains[model] = list(kwargs["combination_of_columns"])
        elif meta.get("name") == "unique" and model not in grains:
            grains[model] = [kwargs["column_name"]]
    return grains


@dataclass
class TableDiff:
    table: str
    rows: tuple[int, int]
    only_left: int = 0
    only_right: int = 0
    float_mismatches: int = 0
    duplicate_grain_rows: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return (
            self.rows[0] == self.rows[1]
            and not self.only_left
            and not self.only_right
            and not self.float_mismatches
            and self.duplicate_grain_rows == (0, 0)
        )


def compare_schema(
    left: Path, right: Path, schema: str, grains: dict[str, list[str]], tables: list[str] | None
) -> list[TableDiff]:
    """Every table of `schema` in two warehouses: rows, EXCEPT ALL both ways, duplicate grains."""
    conn = duckdb.connect(str(left), read_only=True)
    try:
        conn.execute(f"attach '{right}' as other (read_only)")
        names = tables or [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = current_database() and table_schema = ? "
                "and table_type = 'BASE TABLE' order by 1",
                [schema],
            ).fetchall()
        ]
        return [compare_table(conn, schema, name, grains.get(name)) for name in names]
    finally:
        conn.close()


def compare_table(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, grain: list[str] | None
) -> TableDiff:
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    floats = [c for c, t in columns if t in FLOAT_TYPES]
    exact = [f'"{c}"' for c, t in columns if t not in FLOAT_TYPES]
    left, right = f'{schema}."{table}"', f'other.{schema}."{table}"'

    def scalar(sql: str) -> int:
        return conn.execute(sql).fetchone()[0]

    diff = TableDiff(
        table, (scalar(f"select count(*) from {left}"), scalar(f"select count(*) from {right}"))
    )
    cols = ", ".join(exact) if exact else "1"
    if not floats or grain:
        # without floats compare whole rows; with floats the exact columns (floats below)
        diff.only_left = scalar(
            f"select count(*) from (select {cols} from {left} except all "
            f"select {cols} from {right})"
        )
        diff.only_right = scalar(
            f"select count(*) from (select {cols} from {right} except all "
            f"select {cols} from {left})"
        )
    if floats and not grain:
        diff.notes.append("no grain: floats compared rounded to 9 decimals")
        rounded = ", ".join(exact + [f'round("{c}", 9)' for c in floats])
        diff.only_left = scalar(
            f"select count(*) from (select {rounded} from {left} except all "
            f"select {rounded} from {right})"
        )
        diff.only_right = scalar(
            f"select count(*) from (select {rounded} from {right} except all "
            f"select {rounded} from {left})"
        )
    if grain:
        keys = ", ".join(f'"{c}"' for c in grain)
        diff.duplicate_grain_rows = (
            scalar(f"select count(*) - count(distinct ({keys})) from {left}"),
            scalar(f"select count(*) - count(distinct ({keys})) from {right}"),
        )
        if floats:
            on = " and ".join(f'l."{c}" is not distinct from r."{c}"' for c in grain)
            mismatch = " or ".join(
                f'not (l."{c}" is not distinct from r."{c}" or abs(l."{c}" - r."{c}") '
                f'<= {REL_TOLERANCE} * greatest(1, abs(r."{c}")))'
                for c in floats
            )
            diff.float_mismatches = scalar(
                f"select count(*) from {left} as l inner join {right} as r on {on} where {mismatch}"
            )
    return diff


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the dbt asset alone on a warehouse.")
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--full-refresh", action="store_true")
    args = parser.parse_args()
    seconds = run_dbt_asset(args.warehouse, full_refresh=args.full_refresh)
    print(f"dbt asset: {seconds:.1f}s", flush=True)


if __name__ == "__main__":
    main()
