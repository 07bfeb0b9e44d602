"""The `ops` schema of the serving file: how the data got there, for the data-quality dashboard.

Written by each publish beside `marts` (docs/bi.md): check results of every run so far (carried
from the previous publish, plus the runs since), quarantined rows per feed, day and reason,
each feed's freshness, the publish log, and the deployment's currency and time zone.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import serving, settings
from orchestration.checks.freshness_checks import max_lag_days, newest_partition
from orchestration.contract import FEEDS

# Each table: its columns, then its comment (the column meanings are in docs/bi.md).
OPS_TABLES = {
    "check_results": (
        "run_id VARCHAR, evaluated_at TIMESTAMP, asset VARCHAR, check_name VARCHAR, "
        "passed BOOLEAN, severity VARCHAR",
        "Every asset check evaluation of the runs so far (UTC), failed runs included.",
    ),
    "quarantine_daily": (
        "feed VARCHAR, partition_dt DATE, reason VARCHAR, rows BIGINT",
        "Rows set aside at ingest, per feed, landing partition and reason.",
    ),
    "feed_freshness": (
        "feed VARCHAR, delivered BOOLEAN, newest_partition_dt DATE, last_loaded_at TIMESTAMP, "
        "lag_days INTEGER, max_lag_days INTEGER, fresh BOOLEAN",
        "Each feed of the contract at publish time: delivered or not, newest landing partition, "
        "last load (UTC) and whether it is within FRESHNESS_MAX_LAG_DAYS.",
    ),
    "deployment": (
        "currency VARCHAR, business_timezone VARCHAR",
        "The deployment's currency (every money column) and business time zone (every date).",
    ),
}


def check_rows(instance: dg.DagsterInstance, history: Path | None) -> list[tuple]:
    """The check evaluations of every run created since the publish of `history` (the previous
    serving file; all runs without one)."""
    kind = dg.DagsterEventType.ASSET_CHECK_EVALUATION
    times = [row["published_at"] for row in serving.read_log(history)] if history else []
    since = max(times).replace(tzinfo=UTC) if times else None
    rows = []
    for run in instance.get_runs(filters=dg.RunsFilter(created_after=since)):
        for record in instance.get_records_for_run(run.run_id, of_type=kind).records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            at = datetime.fromtimestamp(record.event_log_entry.timestamp, UTC).replace(tzinfo=None)
            asset = evaluation.asset_key.to_user_string()
            severity = evaluation.severity.value
            rows.append((run.run_id, at, asset, evaluation.check_name, evaluation.passed, severity))
    return rows


def has_table(conn: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> bool:
    sql = "SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
    return (
        conn.execute(sql + "AND table_name = ?", [database, schema, table]).fetchone() is not None
    )


def write_ops(conn: duckdb.DuckDBPyConnection, checks: list[tuple], history: Path | None) -> None:
    """Create serving_new.ops from the warehouse `conn` is on, `checks` (check_rows) and the
    check results carried in the previous publish `history`."""
    conn.execute("CREATE SCHEMA serving_new.ops")
    for table, (columns, comment) in OPS_TABLES.items():
        conn.execute(f"CREATE TABLE serving_new.ops.{table} ({columns})")
        conn.execute(f"COMMENT ON TABLE serving_new.ops.{table} IS $${comment}$$")
    _check_results(conn, checks, history)
    warehouse = conn.execute("SELECT current_database()").fetchone()[0]
    for (feed,) in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
        "AND schema_name = 'raw_quarantine'",
        [warehouse],
    ).fetchall():
        conn.execute(
            "INSERT INTO serving_new.ops.quarantine_daily SELECT ?, _partition_dt, _reason, "
            f'count(*) FROM raw_quarantine."{feed}" GROUP BY ALL ORDER BY ALL',
            [feed],
        )
    loaded = {}
    if has_table(conn, warehouse, "raw", "_load_log"):
        sql = "SELECT feed, max(loaded_at) FROM raw._load_log GROUP BY feed"
        loaded = dict(conn.execute(sql).fetchall())
    for feed in FEEDS:
        row = [feed, *_freshness(feed), loaded.get(feed)]
        conn.execute(
            "INSERT INTO serving_new.ops.feed_freshness BY NAME SELECT "
            "? AS feed, ? AS delivered, ? AS newest_partition_dt, ? AS lag_days, "
            "? AS max_lag_days, ? AS fresh, ? AS last_loaded_at",
            row,
        )
    dbt_vars = {**settings.dbt_project_vars(), **settings.get().all_dbt_vars}
    conn.execute(
        "INSERT INTO serving_new.ops.deployment VALUES (?, ?)",
        [dbt_vars["currency"], dbt_vars["business_timezone"]],
    )
    conn.execute(
        "CREATE TABLE serving_new.ops.publish_log AS SELECT * FROM serving_new.marts._publish_log"
    )
    conn.execute("COMMENT ON TABLE serving_new.ops.publish_log IS 'A copy of marts._publish_log.'")


def _check_results(
    conn: duckdb.DuckDBPyConnection, checks: list[tuple], history: Path | None
) -> None:
    """The previous publish's ops.check_results, then the rows of `checks` of other runs."""
    table = "serving_new.ops.check_results"
    if history is not None:
        conn.execute(f"ATTACH '{history}' AS prev (READ_ONLY)")
        try:
            if has_table(conn, "prev", "ops", "check_results"):
                conn.execute(f"INSERT INTO {table} SELECT * FROM prev.ops.check_results")
        finally:
            conn.execute("DETACH prev")
    known = {run for (run,) in conn.execute(f"SELECT DISTINCT run_id FROM {table}").fetchall()}
    rows = [row for row in checks if row[0] not in known]
    if rows:
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)", rows)


def _freshness(feed: str) -> tuple[bool, date | None, int | None, int, bool]:
    """delivered, newest partition, lag in days (UTC), the max lag, fresh: as the check judges."""
    current = settings.get()
    delivered = current.deployment.delivers(feed)
    newest = newest_partition(current.landing_dir, feed) if delivered else None
    lag = None if newest is None else (datetime.now(UTC).date() - newest).days
    limit = max_lag_days(feed)
    return delivered, newest, lag, limit, lag is not None and lag <= limit
