"""Raw tables of the DuckDB warehouse -> Parquet that Spark reads (the Spark target's sources).

Each table of `raw` and `raw_replaced` goes to `<raw_dir>/<schema>/<table>/data.parquet`, the
folder that the dbt macro `spark_register_raw_sources` declares as the table's location.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

# Schemas whose tables dbt reads as sources. raw_replaced exists once partitioned ingest lands.
RAW_SCHEMAS: tuple[str, ...] = ("raw", "raw_replaced")
TABLES_SQL = (
    "select table_name from duckdb_tables() "
    "where database_name = current_database() and schema_name = ? order by table_name"
)


@dataclass(frozen=True)
class ExportedTable:
    schema: str
    table: str
    rows: int
    path: Path


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def export_raw(warehouse: Path, raw_dir: Path) -> list[ExportedTable]:
    """Write every raw table of the DuckDB file `warehouse` as Parquet under `raw_dir`.

    `raw_dir/<schema>/` is replaced whole, so a table dropped from DuckDB does not linger as a
    stale folder. Schemas absent from the warehouse are skipped (their folder removed).
    """
    exported: list[ExportedTable] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema in RAW_SCHEMAS:
            schema_dir = raw_dir / schema
            if schema_dir.exists():
                shutil.rmtree(schema_dir)
            for (table,) in con.execute(TABLES_SQL, [schema]).fetchall():
                table_dir = schema_dir / table
                table_dir.mkdir(parents=True)
                path = table_dir / "data.parquet"
                relation = f"{_quote(schema)}.{_quote(table)}"
                target = path.as_posix().replace("'", "''")
                con.execute(f"copy (select * from {relation}) to '{target}' (format parquet)")
                (rows,) = con.execute(f"select count(*) from {relation}").fetchone() or (0,)
                exported.append(ExportedTable(schema, table, int(rows), path))
    return exported
