"""Asset checks: the Great Expectations suites in expectations/ as Dagster checks."""
