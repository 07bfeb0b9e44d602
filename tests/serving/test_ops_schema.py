"""The `ops` schema of the serving file: check results carried across publishes (failed runs
included), quarantined rows per feed, day and reason, freshness per feed, the publish log and
the deployment's currency."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
from conftest import SAMPLE_DAYS, SAMPLE_START, SampleRun

from orchestration.assets.publish import write_serving_copy
from orchestration.contract import FEEDS


def _query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _publish(tmp_path: Path, run_id: str, checks: list[tuple]) -> Path:
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
        conn.execute("CREATE OR REPLACE TABLE marts.daily_sales AS SELECT 1 AS gmv")
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw_quarantine")
        conn.execute(
            "CREATE OR REPLACE TABLE raw_quarantine.payments AS SELECT * FROM (VALUES "
            "(DATE '2025-01-02', 'amount < 0'), (DATE '2025-01-02', 'amount < 0'), "
            "(DATE '2025-01-03', 'missing order_id')) t(_partition_dt, _reason)"
        )
        write_serving_copy(conn, tmp_path / "serving", run_id, ["daily_sales"], checks=checks)
    return tmp_path / "serving" / "serving.duckdb"


def test_check_results_accumulate_and_quarantine_is_counted(tmp_path: Path) -> None:
    at = datetime(2025, 1, 3, 8)
    failed = ("run-1", at, "raw/payments", "quarantine_share", False, "ERROR")
    _publish(tmp_path, "run-1", [failed])
    passed = ("run-2", at, "raw/payments", "quarantine_share", True, "ERROR")
    database = _publish(tmp_path, "run-2", [failed, passed])  # run-1 is carried, not repeated
    assert _query(database, "SELECT run_id, passed FROM ops.check_results ORDER BY run_id") == [
        ("run-1", False),
        ("run-2", True),
    ]
    assert _query(database, "SELECT * FROM ops.quarantine_daily ORDER BY ALL") == [
        ("payments", datetime(2025, 1, 2).date(), "amount < 0", 2),
        ("payments", datetime(2025, 1, 3).date(), "missing order_id", 1),
    ]
    assert _query(database, "SELECT count(*) FROM ops.publish_log") == [(2,)]
    # Documented like the marts: every table and column has a comment.
    assert (
        _query(
            database,
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name = 'ops' AND coalesce(comment, '') = ''",
        )
        == []
    )


def test_a_sample_publish_has_the_ops_schema(sample_run: SampleRun) -> None:
    database = sample_run.serving / "serving.duckdb"
    checks = _query(
        database, "SELECT count(*), count(*) FILTER (WHERE NOT passed) FROM ops.check_results"
    )[0]
    published = _query(database, "SELECT checks_passed FROM marts._publish_log")
    assert [(checks[0],)] == published  # every check of the run before its publish
    assert checks[0] > 0 and checks[1] == 0
    freshness = _query(
        database, "SELECT feed, delivered, newest_partition_dt FROM ops.feed_freshness"
    )
    last_day = SAMPLE_START.fromordinal(SAMPLE_START.toordinal() + SAMPLE_DAYS - 1)
    assert {feed for feed, *_ in freshness} == set(FEEDS)
    assert all(delivered for _, delivered, _ in freshness)
    assert max(newest for *_, newest in freshness) == last_day
    assert _query(database, "SELECT currency FROM ops.deployment") == [("CNY",)]
    assert _query(database, "SELECT * FROM ops.publish_log") == _query(
        database, "SELECT * FROM marts._publish_log"
    )
