"""Stand-ins for dbt's jinja context when sqlfluff lints the models with its jinja templater.

sqlfluff's `apply_dbt_builtins` supplies ref/source/var/config; the modules here add `dbt`,
`adapter`, `flags` and `target`, so the project's macros render to parseable SQL without a
warehouse connection. Only sqlfluff imports this package.
"""
