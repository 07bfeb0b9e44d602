"""Data quality: Great Expectations suites (expectations/*.json) run against warehouse tables.

`gx_validation` is Dagster-free; `orchestration.checks.gx_checks` turns its results into asset
checks. Importing this package does not import Great Expectations (it takes seconds).
"""
