"""`target` stand-in: the DuckDB target (macros such as incremental_config branch on target.type)."""

type = "duckdb"  # noqa: A001 - the name dbt's context uses
schema = "main"
name = "duckdb"
