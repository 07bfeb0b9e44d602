"""Stand-ins for dbt's jinja context when sqlfluff lints the models with its jinja templater.

sqlfluff's `apply_dbt_builtins` supplies ref/source/var/config; this package adds the rest the
models use: `dbt.<cross-db macro>` (module `dbt`), `adapter.dispatch` and `adapter.get_relation`
(module `adapter`) and `flags` (module `flags`), so that the project's own macros (loaded from
dbt_project/macros) render to parseable SQL without a warehouse connection. Only sqlfluff
imports this package; dbt never does.
"""
