select version, published_at, run_id, cast(row_counts as varchar) as row_counts, checks_passed,
       dagster_version, duckdb_version, storage_version
from ops.publish_log
