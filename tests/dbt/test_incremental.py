"""Incremental dbt builds (issue 6) against real dbt + DuckDB on the session sample.

- A batch (tests/dbt/batch_sim: a re-delivered orders partition with a cancelled order, a late
  refund and payment, late events around midnight, a removed purchase event, a late review and
  signup) built incrementally gives exactly the marts of a --full-refresh build of the same raw
  data (every mart, both directions, no duplicate grain rows).
- A dbt build killed with SIGKILL mid-way leaves the previous state (DuckDB rolls back the open
  transaction from its WAL) and records no build; the re-run redoes the batch and converges to
  the marts of an uninterrupted build.
- The dbt unit tests (the 50 KPI ones and the incremental ones with is_incremental overridden)
  pass; the pipeline's own builds skip them (orchestration/assets/dbt.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration import settings
from orchestration.assets.dbt import BUILD_LOG, utc_now
from tests.dbt.batch_sim import simulate_batch
from tests.dbt.dbt_runner import compare_schema, mart_grains, run_dbt_asset

BATCH_DAY = date(2025, 2, 20)  # inside the session sample (2025-01-06 + 91 days)
INCREMENTAL_MODELS = (
    "int_events_sessionized",
    "int_sessions",
    "int_purchase_events",
    "int_order_facts",
    "int_order_items_enriched",
    "int_customer_facts",
    "int_customer_daily_activity",
)


def query(db: Path, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def apply_batch(db: Path) -> dict[str, int]:
    conn = duckdb.connect(str(db))
    try:
        return simulate_batch(conn, BATCH_DAY, utc_now())
    finally:
        conn.close()


def assert_same_marts(left: Path, right: Path) -> None:
    grains = mart_grains()
    diffs = compare_schema(left, right, "marts", grains, None)
    assert len(diffs) >= 29, [d.table for d in diffs]
    unequal = [d for d in diffs if not d.equal]
    assert not unequal, unequal
    intermediates = compare_schema(left, right, "intermediate", grains, list(INCREMENTAL_MODELS))
    assert all(d.equal for d in intermediates), [d for d in intermediates if not d.equal]


@pytest.fixture(scope="module")
def batch_builds(sample_run, tmp_path_factory) -> dict[str, Path]:
    """The sample warehouse + the batch, built incrementally and with --full-refresh."""
    root = tmp_path_factory.mktemp("incremental")
    before, incremental, full = root / "before.duckdb", root / "inc.duckdb", root / "full.duckdb"
    shutil.copy(sample_run.warehouse, before)
    shutil.copy(sample_run.warehouse, incremental)
    applied = apply_batch(incremental)
    assert applied["orders_redelivered"] > 0 and applied["events_removed"] == 1
    assert applied["first_seen_moved"] == 1
    assert applied["session_inserted_mid_history"] == 1
    assert applied["event_moved_to_visitor"] == applied["event_redelivered_later"] == 1
    run_dbt_asset(incremental)
    shutil.copy(incremental, full)
    run_dbt_asset(full, full_refresh=True)
    return {"before": before, "incremental": incremental, "full": full}


def test_sample_pipeline_recorded_a_full_build(sample_run):
    rows = query(sample_run.warehouse, f"select full_refresh, batch_since from {BUILD_LOG}")
    assert rows == [(True, None)]


def test_incremental_build_reads_only_the_batch(batch_builds):
    db = batch_builds["incremental"]
    log = query(db, f"select full_refresh, batch_since, watermark from {BUILD_LOG} order by 3")
    assert [r[0] for r in log] == [True, False]
    assert log[1][1] == log[0][2]  # batch since = the previous build's watermark
    dates = {d for (d,) in query(db, "select business_date from intermediate.int_batch_dates")}
    spine = query(db, "select count(*) from intermediate.int_date_spine")[0][0]
    assert BATCH_DAY in dates and len(dates) < spine / 3, sorted(dates)
    visitors = query(db, "select visitor_id from intermediate.int_batch_visitors")
    assert ("sim-visitor-1",) in visitors
    # the session crossing midnight is one session dated BATCH_DAY
    session = query(
        db,
        "select business_date, events from intermediate.int_sessions "
        "where visitor_id = 'sim-visitor-1'",
    )
    assert session == [(BATCH_DAY, 3)]
    # int_customer_facts re-derives the batch's customers only, the late signup among them
    batch_customers = "select customer_id from intermediate.int_batch_customers"
    customers = {c for (c,) in query(db, batch_customers)}
    all_customers = query(db, "select count(*) from intermediate.int_customer_facts")[0][0]
    assert "sim-customer-1" in customers and len(customers) < all_customers / 3


def test_incremental_build_equals_full_refresh(batch_builds):
    assert_same_marts(batch_builds["incremental"], batch_builds["full"])


def test_batch_changed_the_marts(batch_builds):
    """The equality above is not vacuous: the batch moved daily KPIs of the day."""
    diffs = compare_schema(
        batch_builds["before"],
        batch_builds["incremental"],
        "marts",
        mart_grains(),
        ["daily_sales", "daily_traffic", "daily_satisfaction", "daily_users"],
    )
    changed = {d.table for d in diffs if not d.equal}
    assert {"daily_sales", "daily_traffic", "daily_satisfaction", "daily_users"} <= changed


def test_incremental_models_have_no_duplicate_keys(batch_builds):
    db = batch_builds["incremental"]
    for model, key in (
        ("intermediate.int_events_sessionized", "event_id"),
        ("intermediate.int_sessions", "session_id"),
        ("intermediate.int_purchase_events", "event_id"),
        ("intermediate.int_order_facts", "order_id"),
        ("intermediate.int_order_items_enriched", "order_id, line_number"),
        ("intermediate.int_customer_facts", "customer_id"),
        ("intermediate.int_customer_daily_activity", "customer_id, business_date"),
        ("marts.product_sales_monthly", "month, product_id"),
    ):
        dupes = query(db, f"select count(*) - count(distinct ({key})) from {model}")[0][0]
        assert dupes == 0, model


def test_batch_data_tests_read_the_rows_the_build_wrote(batch_builds):
    """Each replace_where model's batch build keeps the rows it wrote in dbt_batch, labelled
    with its invocation; they are rows of the model, and the batch's events are among them."""
    db = batch_builds["incremental"]
    labels = dict(
        query(db, "select table_name, comment from duckdb_tables() where schema_name = 'dbt_batch'")
    )
    assert {
        "staging__stg_tracking__events",
        "staging__stg_shop__order_items",
        "intermediate__int_sessions",
        "intermediate__int_order_facts",
    } <= set(labels)
    assert len(set(labels.values())) == 1, labels  # all written by the one incremental build
    for table in labels:
        schema, model = table.split("__", 1)
        kept = f'dbt_batch."{table}"'
        not_in_model = f'select * from {kept} except all select * from {schema}."{model}"'
        assert query(db, f"select count(*) from ({not_in_model})") == [(0,)], table
    assert query(db, 'select count(*) > 0 from dbt_batch."staging__stg_tracking__events"') == [
        (True,)
    ]


def test_a_bad_batch_row_fails_its_data_test(batch_builds, tmp_path):
    """A batch order line of an unknown order reaches the relationships test of
    stg_shop__order_items through the rows the build kept, and fails the build."""
    bad = tmp_path / "bad.duckdb"
    shutil.copy(batch_builds["incremental"], bad)
    conn = duckdb.connect(str(bad))
    try:
        conn.execute(
            "insert into raw.order_items select * replace ("
            "'no-such-order' as order_id, "
            "(select max(_loaded_at) from raw.order_items) + interval 1 hour as _loaded_at"
            ") from raw.order_items limit 1"
        )
    finally:
        conn.close()
    target = settings.DBT_PROJECT_DIR / "target"
    runs_before = set(target.glob("dbt_models-*/run_results.json"))
    with pytest.raises(Exception):  # noqa: B017 - dagster-dbt's own error for a failed build
        run_dbt_asset(bad)
    # Others may build the shared project meanwhile: this build's run has the failed test.
    new_runs = set(target.glob("dbt_models-*/run_results.json")) - runs_before
    (relationships,) = [
        result
        for path in new_runs
        for result in json.loads(path.read_text())["results"]
        if result["status"] == "fail"
        and result["unique_id"].split(".")[2].startswith("relationships_stg_shop__order_items")
    ]
    assert relationships["failures"] == 1
    kept = '"dbt_batch"."staging__stg_shop__order_items"'
    assert kept in relationships["compiled_code"]


def dbt_logs() -> set[Path]:
    """The dbt.log of every dbt invocation of the Dagster asset so far."""
    return set((settings.DBT_PROJECT_DIR / "target").glob("dbt_models-*/dbt.log"))


def new_dbt_log(before: set[Path]) -> Path | None:
    """dbt.log of the dbt invocation started after `before` was listed (by path, not by mtime:
    the reference build's log can carry a time close to the new run's start)."""
    return max(dbt_logs() - before, key=lambda p: p.stat().st_mtime, default=None)


def wait_for_group_exit(pgid: int, timeout: float = 120) -> None:
    """Until no process of the group is left (a killed dbt child is reaped by init)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)  # polling interval
    raise AssertionError(f"process group {pgid} still alive after SIGKILL")


def test_sigkill_mid_build_then_rerun_converges(sample_run, tmp_path):
    killed, reference = tmp_path / "killed.duckdb", tmp_path / "reference.duckdb"
    shutil.copy(sample_run.warehouse, killed)
    apply_batch(killed)
    shutil.copy(killed, reference)
    run_dbt_asset(reference)  # the uninterrupted build of the same batch

    env = {**os.environ, "WAREHOUSE_PATH": str(killed)}
    logs_before = dbt_logs()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.dbt.dbt_runner", str(killed)],
        cwd=settings.REPO_ROOT,
        env=env,
        start_new_session=True,  # its own process group: the dbt child dies with it
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill once dbt has committed the incremental intermediates but before the marts.
    marker = "OK created sql incremental model intermediate.int_sessions"
    log = None
    deadline = time.time() + 900
    try:
        while time.time() < deadline and proc.poll() is None:
            log = log or new_dbt_log(logs_before)
            if log is not None and marker in log.read_text(errors="replace"):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)  # polling interval, not a synchronisation sleep
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for_group_exit(proc.pid)  # the dbt child dies too, then frees the file lock
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    text = log.read_text(errors="replace") if log else ""
    assert "OK created sql incremental model marts." not in text.split(marker)[0]
    assert not (log.parent / "run_results.json").exists()

    # The killed writer left its WAL; the first read-write open replays the committed part
    # and drops the uncommitted transaction. The killed build recorded nothing, so the
    # re-run plans the same batch again.
    conn = duckdb.connect(str(killed))
    try:
        log_rows = conn.execute(f"select full_refresh from {BUILD_LOG}").fetchall()
    finally:
        conn.close()
    assert log_rows == [(True,)]
    run_dbt_asset(killed)
    assert query(killed, f"select full_refresh from {BUILD_LOG} order by finished_at") == [
        (True,),
        (False,),
    ]
    assert_same_marts(killed, reference)


def test_dbt_unit_tests_pass(sample_run, tmp_path):
    """The dbt unit tests, which the pipeline's builds exclude, on a copy of the sample."""
    db = tmp_path / "unit.duckdb"
    shutil.copy(sample_run.warehouse, db)
    dbt = Path(sys.executable).with_name("dbt")
    target = tmp_path / "target"
    proc = subprocess.run(
        [
            str(dbt),
            "test",
            "--select",
            "test_type:unit",
            "--project-dir",
            str(settings.DBT_PROJECT_DIR),
            "--profiles-dir",
            str(settings.DBT_PROJECT_DIR),
            "--target-path",
            str(target),
        ],
        env={**os.environ, "WAREHOUSE_PATH": str(db)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    # only the unit tests: the on-run-start hook (Spark source registration) reports "success"
    results = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(results) >= 53
    assert {r["status"] for r in results} == {"pass"}
