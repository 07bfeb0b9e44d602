"""`target` stand-in: the DuckDB target (incremental_config branches on target.type)."""

type = "duckdb"  # the name dbt's context uses
schema = "main"
name = "duckdb"
