"""Test helper: the marts built on Spark against those built on DuckDB, row by row by grain.

Equal means: the same columns in the same order, the same grain keys (no row missing or extra),
and per row: money (DECIMAL) and every non-float value exactly equal, DOUBLE values equal within
1e-9 (relative, or absolute near 0), NULL where the other side is NULL. The Spark side is read
from the Parquet files of its tables (`<SPARK_DIR>/warehouse/<schema>.db/<table>/`) by DuckDB,
so the comparison needs no second Spark process.

The grain of a mart is taken from its dbt data tests: the column with a `unique` test, or the
columns of its `unique_combination_of_columns` test (models/marts/**/*.yml).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

REL_TOL = 1e-9
ABS_TOL = 1e-9
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


def mart_grains(manifest_path: Path, schema: str = "marts") -> dict[str, list[str]]:
    """{mart: grain columns} for every model of `schema` in a dbt manifest."""
    manifest = json.loads(manifest_path.read_text())
    marts = {
        node["unique_id"]: node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == schema
    }
    grains: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node") not in marts:
            continue
        mart = marts[node["attached_node"]]
        meta = node.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        if meta.get("name") == "unique_combination_of_columns":
            grains[mart] = list(kwargs["combination_of_columns"])
        elif meta.get("name") == "unique" and mart not in grains:
            grains[mart] = [kwargs.get("column_name") or node["column_name"]]
    missing = sorted(set(marts.values()) - set(grains))
    if missing:
        raise ValueError(f"marts without a unique / unique_combination_of_columns test: {missing}")
    return grains


def spark_table_glob(spark_dir: Path, schema: str, table: str) -> str:
    """Parquet files of a Spark managed table (spark.sql.warehouse.dir = SPARK_DIR/warehouse)."""
    return (spark_dir / "warehouse" / f"{schema}.db" / table / "*.parquet").as_posix()


def _values_equal(left: Any, right: Any, is_float: bool) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if is_float:
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return bool(left == right)


def compare_table(
    con: duckdb.DuckDBPyConnection,
    duckdb_relation: str,
    spark_relation: str,
    grain: Sequence[str],
    max_reports: int = 5,
) -> list[str]:
    """Differences between two relations readable by `con`, keyed by `grain` ([] = equal)."""
    left = con.execute(f"select * from {duckdb_relation}")
    columns = [d[0] for d in left.description]
    types = {d[0]: str(d[1]).upper() for d in left.description}
    left_rows = left.fetchall()
    right = con.execute(f"select * from {spark_relation}")
    right_columns = [d[0] for d in right.description]
    if right_columns != columns:
        return [f"columns differ: duckdb {columns} vs spark {right_columns}"]
    right_rows = right.fetchall()
    key_at = [columns.index(c) for c in grain]

    def keyed(rows: list[tuple]) -> tuple[dict[tuple, tuple], int]:
        by_key = {tuple(row[i] for i in key_at): row for row in rows}
        return by_key, len(rows) - len(by_key)

    left_by_key, left_dupes = keyed(left_rows)
    right_by_key, right_dupes = keyed(right_rows)
    problems: list[str] = []
    if left_dupes or right_dupes:
        problems.append(f"grain {list(grain)} not unique: duckdb {left_dupes}, spark {right_dupes}")
    only_left = sorted(set(left_by_key) - set(right_by_key), key=str)
    only_right = sorted(set(right_by_key) - set(left_by_key), key=str)
    if only_left:
        problems.append(f"{len(only_left)} rows only on duckdb, e.g. {only_left[:max_reports]}")
    if only_right:
        problems.append(f"{len(only_right)} rows only on spark, e.g. {only_right[:max_reports]}")
    is_float = [types[c].startswith(FLOAT_TYPES) for c in columns]
    mismatches = 0
    for key in sorted(set(left_by_key) & set(right_by_key), key=str):
        lrow, rrow = left_by_key[key], right_by_key[key]
        for i, column in enumerate(columns):
            if not _values_equal(lrow[i], rrow[i], is_float[i]):
                mismatches += 1
                if mismatches <= max_reports:
                    problems.append(
                        f"{dict(zip(grain, key, strict=True))} {column}: "
                        f"duckdb {lrow[i]!r} vs spark {rrow[i]!r}"
                    )
    if mismatches > max_reports:
        problems.append(f"... {mismatches} differing values in all")
    return problems


def compare_marts(
    warehouse: Path, spark_dir: Path, grains: Mapping[str, Sequence[str]], schema: str = "marts"
) -> dict[str, list[str]]:
    """{mart: differences} for every mart of `grains` that differs ({} = all equal)."""
    differences: dict[str, list[str]] = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse.as_posix()}' as wh (read_only)")
        for mart, grain in sorted(grains.items()):
            spark_relation = f"read_parquet('{spark_table_glob(spark_dir, schema, mart)}')"
            try:
                problems = compare_table(con, f"wh.{schema}.{mart}", spark_relation, grain)
            except duckdb.Error as exc:  # e.g. the Spark table was not built
                problems = [f"{type(exc).__name__}: {exc}"]
            if problems:
                differences[mart] = problems
    return differences
