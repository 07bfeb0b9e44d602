"""The `ops` schema of the serving file (serving_schema.sql, docs/bi.md), for the data-quality
dashboard: check results of every run so far, quarantined rows, feed freshness, the deployment."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import serving, settings
from orchestration.checks.freshness_checks import freshness_result, newest_partition
from orchestration.contract import FEEDS


def run_check_rows(instance: dg.DagsterInstance, run_id: str) -> list[tuple]:
    """(run_id, evaluated_at, asset, check_name, passed, severity) of each check of a run."""
    kind = dg.DagsterEventType.ASSET_CHECK_EVALUATION
    rows = []
    for record in instance.get_records_for_run(run_id, of_type=kind).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        at = datetime.fromtimestamp(record.event_log_entry.timestamp, UTC).replace(tzinfo=None)
        asset, severity = evaluation.asset_key.to_user_string(), evaluation.severity.value
        rows.append((run_id, at, asset, evaluation.check_name, evaluation.passed, severity))
    return rows


def check_rows(instance: dg.DagsterInstance, history: Path | None) -> list[tuple]:
    """The run_check_rows of every run created since the publish of `history` (the previous
    serving file; all runs without one)."""
    times = [row["published_at"] for row in serving.read_log(history)] if history else []
    since = max(times).replace(tzinfo=UTC) if times else None
    runs = instance.get_runs(filters=dg.RunsFilter(created_after=since))
    return [row for run in runs for row in run_check_rows(instance, run.run_id)]


def has_table(conn: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> bool:
    sql = "FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? AND table_name = ?"
    return conn.execute(sql, [database, schema, table]).fetchone() is not None


def write_ops(conn: duckdb.DuckDBPyConnection, checks: list[tuple]) -> None:
    """Fill serving_new.ops (serving_schema.sql) from the warehouse `conn` is on, the check results
    of the previous publish (attached as `prev`, if any) and `checks` (check_rows)."""
    results = "serving_new.ops.check_results"
    if has_table(conn, "prev", "ops", "check_results"):
        conn.execute(f"INSERT INTO {results} SELECT * FROM prev.ops.check_results")
    known = {run for (run,) in conn.execute(f"SELECT DISTINCT run_id FROM {results}").fetchall()}
    rows = [row for row in checks if row[0] not in known]
    if rows:
        conn.executemany(f"INSERT INTO {results} VALUES (?, ?, ?, ?, ?, ?)", rows)
    warehouse = conn.execute("SELECT current_database()").fetchone()[0]
    loaded = {}
    if has_table(conn, warehouse, "raw", "_load_log"):
        sql = "SELECT feed, max(loaded_at) FROM raw._load_log GROUP BY feed"
        loaded = dict(conn.execute(sql).fetchall())
    current, today = settings.get(), datetime.now(UTC).date()
    for feed in FEEDS:
        if has_table(conn, warehouse, "raw_quarantine", feed):
            conn.execute(
                "INSERT INTO serving_new.ops.quarantine_daily SELECT ?, _partition_dt, _reason, "
                f'count(*) FROM raw_quarantine."{feed}" GROUP BY ALL ORDER BY ALL',
                [feed],
            )
        delivered = current.deployment.delivers(feed)
        newest = newest_partition(current.landing_dir, feed) if delivered else None
        check = freshness_result(feed, newest, today)  # as the freshness check judges it
        lag = check.metadata["lag_days"].value if newest else None
        limit = check.metadata["max_lag_days"].value
        row = [feed, delivered, newest, loaded.get(feed), lag, limit, check.passed]
        conn.execute("INSERT INTO serving_new.ops.feed_freshness VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    dbt_vars = {**settings.dbt_project_vars(), **current.all_dbt_vars}
    row = [dbt_vars["currency"], dbt_vars["business_timezone"]]
    conn.execute("INSERT INTO serving_new.ops.deployment VALUES (?, ?)", row)
