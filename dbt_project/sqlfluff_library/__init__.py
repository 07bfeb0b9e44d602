"""Stand-ins for dbt's jinja context when sqlfluff lints the models with its jinja templater.

sqlfluff's `apply_dbt_builtins` supplies ref/source/var/config; the names here (and the modules
`dbt` and `adapter`) add the rest, so the project's macros render to parseable SQL without a
warehouse connection. Only sqlfluff imports this package.
"""

from types import SimpleNamespace

flags = SimpleNamespace(FULL_REFRESH=False)  # dbt's run flags: macro has_batch reads FULL_REFRESH
target = SimpleNamespace(type="duckdb", schema="main", name="duckdb")  # the DuckDB target
