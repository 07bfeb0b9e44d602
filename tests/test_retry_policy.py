"""The pipeline's retry policy with a real transient failure: another process holds the DuckDB
write lock on the warehouse when ingest starts, and lets go before the retry. A rejected landing
file, which no retry can fix, is not retried.

The toy job retries as the pipeline does, after a shorter first delay: whether a failure is
retried is the asset's decision (dg.Failure(allow_retries=False)), not the delay's."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.assets.ingest import LandingResource, build_ingest_asset
from orchestration.contract import FEEDS
from orchestration.jobs import FULL_PIPELINE_JOB, TRANSIENT_RETRY_POLICY
from orchestration.partitions import DateRange
from orchestration.resources import WarehouseResource

FIXTURE = Path(__file__).parent / "fixtures" / "handwritten_landing"
# the daily-partitioned ingest runs over a dt range, as `cli pipeline` launches it
DATES = DateRange(date(2025, 2, 20), date(2025, 3, 2)).tags()
QUICK_RETRY_POLICY = dg.RetryPolicy(
    max_retries=TRANSIENT_RETRY_POLICY.max_retries, delay=2, backoff=TRANSIENT_RETRY_POLICY.backoff
)


def _customers_job(landing: Path, warehouse: Path) -> dg.JobDefinition:
    asset = build_ingest_asset(FEEDS["customers"])
    job = dg.define_asset_job(
        "customers_only", selection=[asset.key], op_retry_policy=QUICK_RETRY_POLICY
    )
    defs = dg.Definitions(
        assets=[asset],
        jobs=[job],
        resources={
            "landing": LandingResource(root=str(landing)),
            "warehouse": WarehouseResource(path=str(warehouse)),
        },
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("customers_only")


def _events(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> list:
    return [e for e in result.all_events if e.event_type == event_type]


def _error_chain(error) -> str:
    parts = []
    while error is not None:
        parts.append(f"{error.cls_name}: {error.message}")
        error = error.cause or error.context
    return "\n".join(parts)


def test_the_pipeline_job_carries_the_retry_policy():
    assert FULL_PIPELINE_JOB.op_retry_policy == TRANSIENT_RETRY_POLICY
    assert TRANSIENT_RETRY_POLICY.max_retries == 2
    assert TRANSIENT_RETRY_POLICY.backoff == dg.Backoff.EXPONENTIAL


def test_a_held_warehouse_lock_is_retried_until_it_is_released(tmp_path: Path):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE / "customers", landing / "customers")
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    release = tmp_path / "release"
    # Another process takes the write lock and holds it until the step is up for retry.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import pathlib, time, duckdb
                conn = duckdb.connect({str(warehouse)!r})
                print("locked", flush=True)
                deadline = time.monotonic() + 120
                while not pathlib.Path({str(release)!r}).exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                conn.close()
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    job = _customers_job(landing, warehouse)
    with dg.instance_for_test() as instance:
        stop = threading.Event()

        def release_on_first_retry() -> None:
            while not stop.is_set():
                for run in instance.get_runs():
                    records = instance.get_records_for_run(
                        run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
                    ).records
                    if records:
                        release.touch()
                        return
                time.sleep(0.1)

        watcher = threading.Thread(target=release_on_first_retry, daemon=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            watcher.start()
            result = job.execute_in_process(instance=instance, tags=DATES, raise_on_error=False)
        finally:
            stop.set()
            release.touch()
            holder.wait(timeout=60)
            watcher.join(timeout=10)
    retries = _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) >= 1
    # the DuckDB lock error, somewhere in the chain under Dagster's retry request
    assert "IOException" in _error_chain(retries[0].event_specific_data.error)
    assert result.success
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM raw.customers").fetchone()[0] > 0
    finally:
        conn.close()


def test_a_rejected_landing_file_is_not_retried(tmp_path: Path):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE / "customers", landing / "customers")
    bad = landing / "customers" / "dt=2025-03-02"
    bad.mkdir()
    (bad / "customers.csv").write_text("customer_id,region\nc9,north\n")  # lacks contract columns
    with dg.instance_for_test() as instance:
        result = _customers_job(landing, tmp_path / "w.duckdb").execute_in_process(
            instance=instance, tags=DATES, raise_on_error=False
        )
    assert not result.success
    assert not _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)
    (failure,) = _events(result, dg.DagsterEventType.STEP_FAILURE)
    assert (
        "dt=2025-03-02/customers.csv" in failure.event_specific_data.user_failure_data.description
    )


def test_a_dbt_error_is_not_retried_and_names_its_first_cause(tmp_path: Path, monkeypatch):
    """A SQL error in a model fails the same way on every try: one failure, no retry, and the
    run summary carries the database's own reason on one line."""
    from orchestration import cli

    monkeypatch.setenv("LANDING_DIR", str(FIXTURE))
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("SERVING_DIR", str(tmp_path / "serving"))
    # a date that is no date: int_customer_snapshot_date's cast fails in DuckDB
    monkeypatch.setenv("DBT_VARS", '{business_timezone: UTC, as_of_date: "not-a-date"}')
    with dg.instance_for_test() as instance:
        report = cli.run_pipeline(instance=instance)
        run_id = report.run_id
        retries = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
        ).records
    assert not report.ok
    assert not retries
    cause = report.failed_steps["dbt_models"]
    # the model is a view: the first node to read it (its not_null test) meets the error
    assert cause.startswith("dbt error in "), cause
    assert 'Conversion Error: invalid date field format: "not-a-date"' in cause
    assert "\n" not in cause
