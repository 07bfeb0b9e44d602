"""The `ops` schema of the serving file: how the data got there, for the data-quality dashboard.

Written by each publish beside `marts` (docs/bi.md): check results of every run so far (carried
from the previous publish, plus the runs since), quarantined rows per feed, day and reason,
each feed's freshness, the publish log, and the deployment's currency and time zone.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import serving, settings
from orchestration.checks.freshness_checks import freshness_result, newest_partition
from orchestration.contract import FEEDS

# Each table: its comment, then each column's type and comment (docs/bi.md has the same).
OPS_TABLES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "check_results": (
        "Every asset check evaluation of the runs so far, failed runs included.",
        {
            "run_id": ("VARCHAR", "Dagster run of the evaluation."),
            "evaluated_at": ("TIMESTAMP", "UTC time of the evaluation."),
            "asset": ("VARCHAR", "Asset checked, e.g. marts/daily_sales."),
            "check_name": ("VARCHAR", "Check name (a GX suite, a dbt test, a landing rule)."),
            "passed": ("BOOLEAN", "Whether the check passed."),
            "severity": ("VARCHAR", "ERROR (blocks what is downstream) or WARN."),
        },
    ),
    "quarantine_daily": (
        "Rows set aside at ingest, per feed, landing partition and reason.",
        {
            "feed": ("VARCHAR", "Feed of the landing contract."),
            "partition_dt": ("DATE", "Landing partition (dt=) the rows came in."),
            "reason": ("VARCHAR", "Why the rows were quarantined."),
            "rows": ("BIGINT", "Rows quarantined."),
        },
    ),
    "feed_freshness": (
        "Each feed of the contract when the file was published.",
        {
            "feed": ("VARCHAR", "Feed of the landing contract."),
            "delivered": ("BOOLEAN", "Whether the deployment delivers it (config `feeds`)."),
            "newest_partition_dt": ("DATE", "Newest landing partition holding a file."),
            "last_loaded_at": ("TIMESTAMP", "UTC time of its last load."),
            "lag_days": ("INTEGER", "Days from newest_partition_dt to the publish day (UTC)."),
            "max_lag_days": ("INTEGER", "FRESHNESS_MAX_LAG_DAYS of the feed."),
            "fresh": ("BOOLEAN", "lag_days <= max_lag_days."),
        },
    ),
    "deployment": (
        "The deployment's settings that give the marts their meaning (one row).",
        {
            "currency": ("VARCHAR", "ISO 4217 code of every money column."),
            "business_timezone": ("VARCHAR", "Time zone of every business date."),
        },
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


def create_table(
    conn: duckdb.DuckDBPyConnection, name: str, comment: str, columns: dict[str, tuple[str, str]]
) -> None:
    """CREATE TABLE `name` of `columns` ({column: (type, comment)}), every comment set."""
    conn.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, (t, _) in columns.items())})")
    conn.execute(f"COMMENT ON TABLE {name} IS $${comment}$$")
    for column, (_, text) in columns.items():
        conn.execute(f"COMMENT ON COLUMN {name}.{column} IS $${text}$$")


def write_ops(conn: duckdb.DuckDBPyConnection, checks: list[tuple]) -> None:
    """Create serving_new.ops from the warehouse `conn` is on, the check results carried in the
    previous publish (attached as `prev`, if any) and `checks` (check_rows) of other runs."""
    conn.execute("CREATE SCHEMA serving_new.ops")
    for table, (comment, columns) in OPS_TABLES.items():
        create_table(conn, f"serving_new.ops.{table}", comment, columns)
    results = "serving_new.ops.check_results"
    if has_table(conn, "prev", "ops", "check_results"):
        conn.execute(f"INSERT INTO {results} SELECT * FROM prev.ops.check_results")
    known = {run for (run,) in conn.execute(f"SELECT DISTINCT run_id FROM {results}").fetchall()}
    rows = [row for row in checks if row[0] not in known]
    if rows:
        conn.executemany(f"INSERT INTO {results} VALUES (?, ?, ?, ?, ?, ?)", rows)
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
    current, today = settings.get(), datetime.now(UTC).date()
    for feed in FEEDS:  # as the freshness check judges it
        delivered = current.deployment.delivers(feed)
        newest = newest_partition(current.landing_dir, feed) if delivered else None
        check = freshness_result(feed, newest, today)
        lag = check.metadata["lag_days"].value if newest else None
        limit = check.metadata["max_lag_days"].value
        row = [feed, delivered, newest, loaded.get(feed), lag, limit, check.passed]
        conn.execute("INSERT INTO serving_new.ops.feed_freshness VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    dbt_vars = {**settings.dbt_project_vars(), **current.all_dbt_vars}
    conn.execute(
        "INSERT INTO serving_new.ops.deployment VALUES (?, ?)",
        [dbt_vars["currency"], dbt_vars["business_timezone"]],
    )
