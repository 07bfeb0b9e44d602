"""Raw tables of the DuckDB warehouse -> Parquet that Spark reads (the Spark target's sources):
each table of `raw` and `raw_replaced` goes to `<raw_dir>/<schema>/<table>/data.parquet`, the
folder that the dbt macro `spark_register_raw_sources` declares as the table's location."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.ingest.loader import RAW_SCHEMA, REPLACED_SCHEMA, ident, sql_str

RAW_SCHEMAS = (RAW_SCHEMA, REPLACED_SCHEMA)  # the schemas whose tables dbt reads as sources
TABLES_SQL = "select table_name from duckdb_tables() where schema_name = ? order by table_name"


@dataclass(frozen=True)
class ExportedTable:
    schema: str
    table: str
    rows: int
    path: Path


def export_raw(warehouse: Path, raw_dir: Path) -> list[ExportedTable]:
    """Each table of RAW_SCHEMAS in `warehouse` as Parquet; each `raw_dir/<schema>` is replaced."""
    exported: list[ExportedTable] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema in RAW_SCHEMAS:
            shutil.rmtree(raw_dir / schema, ignore_errors=True)
            for (table,) in con.execute(TABLES_SQL, [schema]).fetchall():
                table_dir = raw_dir / schema / table
                table_dir.mkdir(parents=True)
                path = table_dir / "data.parquet"
                relation = f"{ident(schema)}.{ident(table)}"
                con.execute(f"copy {relation} to {sql_str(path.as_posix())} (format parquet)")
                (rows,) = con.execute(f"select count(*) from {relation}").fetchone()
                exported.append(ExportedTable(schema, table, rows, path))
    return exported
