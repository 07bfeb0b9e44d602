"""The alert sensors against a real Dagster instance, with a real webhook receiver.

Each sensor is ticked as the daemon would (`evaluate_tick` with the cursor of the previous tick):
the first tick starts from "now", a run that fails (or whose checks fail) alerts exactly once per
failure, and the next tick alerts nothing again.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from pytest_httpserver import HTTPServer

from orchestration.alerts import AlertResource
from orchestration.alerts.flagged import alert_on_kpi_anomalies
from orchestration.assets.publish import ServingResource, write_serving_copy
from orchestration.checks.freshness_checks import build_freshness_checks
from orchestration.sensors import SENSORS, alert_on_failed_checks, alert_on_run_failure

HOOK = "/hooks/T1/B2/sensor-token"
UI = "http://dagster.test:3000"
DAILY = dg.DailyPartitionsDefinition(start_date="2025-03-01")


@dg.asset(
    key=["raw", "orders"],
    partitions_def=DAILY,
    check_specs=[
        dg.AssetCheckSpec("non_negative_amounts", asset=["raw", "orders"], blocking=False),
        dg.AssetCheckSpec("has_rows", asset=["raw", "orders"], blocking=False),
    ],
)
def orders_with_a_warning():
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="non_negative_amounts",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"observed_value": -42.5, "threshold": ">= 0"},
                description="2 orders with a negative amount",
            ),
            dg.AssetCheckResult(check_name="has_rows", passed=True),
        ]
    )


@dg.asset(key=["raw", "payments"])
def payments_that_break():
    raise ValueError("disk I/O error while loading payments")


WARN_JOB = dg.define_asset_job("warn_job", selection=[orders_with_a_warning.key])
FAIL_JOB = dg.define_asset_job("fail_job", selection=[payments_that_break.key])
TEST_DEFS = dg.Definitions(
    assets=[orders_with_a_warning, payments_that_break], jobs=[WARN_JOB, FAIL_JOB]
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def hook(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    return httpserver


def _alerts(hook: HTTPServer) -> AlertResource:
    return AlertResource(webhook_url=hook.url_for(HOOK), ui_url=UI, backoff_seconds=0.01)


def _payloads(hook: HTTPServer) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in hook.log]


def _tick(sensor, instance, cursor, resources):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return sensor.evaluate_tick(context)


def test_alert_sensors_are_registered_and_only_observe():
    from orchestration.definitions import defs

    for sensor in SENSORS:
        resolved = defs.resolve_sensor_def(sensor.name)
        # they read and notify, never launch runs: on by default (see orchestration/sensors.py)
        assert resolved.default_status == dg.DefaultSensorStatus.RUNNING
        assert not resolved.targets


def test_failed_non_blocking_check_alerts_once(instance, hook: HTTPServer):
    resources = {"alerts": _alerts(hook)}
    first = _tick(alert_on_failed_checks, instance, None, resources)
    assert first.cursor and not hook.log  # first tick: start from now

    result = TEST_DEFS.resolve_job_def("warn_job").execute_in_process(
        instance=instance, partition_key="2025-03-02"
    )
    assert result.success  # a WARN check leaves the run green: no run-failure alert for it
    second = _tick(alert_on_failed_checks, instance, first.cursor, resources)
    (payload,) = _payloads(hook)
    text = payload["text"]
    for expected in (
        "raw/orders",
        "non_negative_amounts",
        "2025-03-02",
        "-42.5",
        ">= 0",
        "WARN",
        f"{UI}/runs/{result.run_id}",
    ):
        assert expected in text, expected
    assert "has_rows" not in text

    third = _tick(alert_on_failed_checks, instance, second.cursor, resources)
    assert len(hook.log) == 1  # cursor: nothing twice
    # a second run with the same failure is a new alert
    TEST_DEFS.resolve_job_def("warn_job").execute_in_process(
        instance=instance, partition_key="2025-03-03"
    )
    _tick(alert_on_failed_checks, instance, third.cursor, resources)
    assert len(hook.log) == 2 and "2025-03-03" in _payloads(hook)[1]["text"]


def test_failed_run_alerts_once(instance, hook: HTTPServer):
    resources = {"alerts": _alerts(hook)}
    first = _tick(alert_on_run_failure, instance, None, resources)
    result = TEST_DEFS.resolve_job_def("fail_job").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    second = _tick(alert_on_run_failure, instance, first.cursor, resources)
    (payload,) = _payloads(hook)
    text = payload["text"]
    for expected in (
        "Run failed",
        "fail_job",
        "raw__payments",
        "raw/payments",
        "disk I/O error while loading payments",
        f"{UI}/runs/{result.run_id}",
    ):
        assert expected in text, expected
    _tick(alert_on_run_failure, instance, second.cursor, resources)
    assert len(hook.log) == 1


def _landing(root: Path, feeds: dict[str, list[str]]) -> Path:
    for feed, dts in feeds.items():
        for dt in dts:
            part = root / feed / f"dt={dt}"
            part.mkdir(parents=True)
            (part / f"{feed}.csv").write_text("id\n1\n")
    return root


def test_freshness_breach_alerts_through_the_check_sensor(
    instance, hook: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from orchestration.assets.ingest import LandingResource

    monkeypatch.delenv("FRESHNESS_MAX_LAG_DAYS", raising=False)
    landing = _landing(
        tmp_path / "landing", {"orders": ["2025-03-01", "2025-03-09"], "payments": ["2025-03-10"]}
    )
    checks = build_freshness_checks(
        ["orders", "payments"], clock=lambda: datetime(2025, 3, 12, 1, tzinfo=UTC)
    )
    job = dg.define_asset_job("fresh", selection=dg.AssetSelection.checks(*checks.check_keys))
    # the raw assets are daily-partitioned on another branch: the checks must not care
    defs = dg.Definitions(
        assets=[orders_with_a_warning, payments_that_break],
        asset_checks=[checks],
        jobs=[job],
        resources={"landing": LandingResource(root=str(landing))},
    )
    resources = {"alerts": _alerts(hook)}
    first = _tick(alert_on_failed_checks, instance, None, resources)
    result = defs.resolve_job_def("fresh").execute_in_process(instance=instance)
    assert result.success  # a stale landing never fails the run
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["orders"].passed and evaluations["payments"].passed
    tick = _tick(alert_on_failed_checks, instance, first.cursor, resources)
    (payload,) = _payloads(hook)
    text = payload["text"]
    for expected in ("Landing feed is stale", "raw/orders:freshness", "3 days", "<= 2 days"):
        assert expected in text, expected

    def run_and_tick(cursor: str) -> str:
        defs.resolve_job_def("fresh").execute_in_process(instance=instance)
        return _tick(alert_on_failed_checks, instance, cursor, resources).cursor

    # the hourly re-check of the same stale feed does not alert again ...
    cursor = run_and_tick(tick.cursor)
    assert len(hook.log) == 1
    # ... a delivery clears it, and a new breach alerts again
    (landing / "orders" / "dt=2025-03-11").mkdir()
    (landing / "orders" / "dt=2025-03-11" / "orders.csv").write_text("id\n1\n")
    cursor = run_and_tick(cursor)
    assert len(hook.log) == 1
    shutil.rmtree(landing / "orders" / "dt=2025-03-11")
    run_and_tick(cursor)
    assert len(hook.log) == 2 and "raw/orders:freshness" in _payloads(hook)[1]["text"]


# ------------------------------------------------------------------------------ anomalies

ANOMALY_COLUMNS = """
    business_date DATE, kpi VARCHAR, value DOUBLE, baseline_mean DOUBLE, baseline_std DOUBLE,
    z_score DOUBLE, is_anomaly BOOLEAN, baseline_points BIGINT, direction VARCHAR
"""


def _publish_anomalies(tmp_path: Path, rows: list[tuple], run_id: str) -> int:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
        conn.execute(f"CREATE OR REPLACE TABLE marts.kpi_anomalies ({ANOMALY_COLUMNS})")
        conn.executemany("INSERT INTO marts.kpi_anomalies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return write_serving_copy(
            conn, tmp_path / "serving", run_id, ["kpi_anomalies"], keep=3
        ).version
    finally:
        conn.close()


def _row(day: str, kpi: str, anomaly: bool, value: float = 10.0) -> tuple:
    z = 5.0 if anomaly else 0.3
    return (date.fromisoformat(day), kpi, value, 2.0, 1.5, z, anomaly, 4, "up" if anomaly else None)


def test_each_new_published_anomaly_alerts_once(
    instance, hook: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ANOMALY_ALERT_LOOKBACK_DAYS", "7")
    resources = {
        "alerts": _alerts(hook),
        "serving": ServingResource(dir=str(tmp_path / "serving")),
    }
    nothing = _tick(alert_on_kpi_anomalies, instance, None, resources)
    assert nothing.skip_message and "nothing published" in nothing.skip_message

    old = _row("2025-01-01", "gmv", True)  # history, outside the 7-day window
    rows = [old, _row("2025-02-27", "gmv", True, 123.0), _row("2025-02-28", "gmv", False)]
    _publish_anomalies(tmp_path, rows, "run-one")
    first = _tick(alert_on_kpi_anomalies, instance, None, resources)
    (payload,) = _payloads(hook)
    for expected in ("gmv on 2025-02-27", "marts/kpi_anomalies", "123", "run-one", "z = 5"):
        assert expected in payload["text"], expected
    assert f"{UI}/runs/run-one" in payload["text"]

    # same publish: nothing; a new publish with one more flagged row: exactly that row
    second = _tick(alert_on_kpi_anomalies, instance, first.cursor, resources)
    assert len(hook.log) == 1
    rows.append(_row("2025-03-01", "paid_orders", True, 77.0))
    _publish_anomalies(tmp_path, rows, "run-two")
    third = _tick(alert_on_kpi_anomalies, instance, second.cursor, resources)
    assert len(hook.log) == 2
    assert "paid_orders on 2025-03-01" in _payloads(hook)[1]["text"]
    assert "run-two" in _payloads(hook)[1]["text"]
    # re-publishing identical marts (a re-run) alerts nothing again
    _publish_anomalies(tmp_path, rows, "run-three")
    _tick(alert_on_kpi_anomalies, instance, third.cursor, resources)
    assert len(hook.log) == 2


@pytest.mark.slow
def test_anomaly_sensor_reads_the_real_published_mart(
    sample_run, instance, hook: HTTPServer, monkeypatch: pytest.MonkeyPatch
):
    """On the session's pipeline run: one alert per flagged row of the published kpi_anomalies,
    read from serving.duckdb (not the working warehouse), each once."""
    monkeypatch.setenv("ANOMALY_ALERT_LOOKBACK_DAYS", "400")  # the whole 91-day sample
    ((flagged,),) = sample_run.query(
        "SELECT count(*) FROM marts.kpi_anomalies WHERE is_anomaly",
        db=sample_run.serving / "serving.duckdb",
    )
    assert flagged > 0
    resources = {
        "alerts": _alerts(hook),
        "serving": ServingResource(dir=str(sample_run.serving)),
    }
    tick = _tick(alert_on_kpi_anomalies, instance, None, resources)
    assert len(hook.log) == flagged
    texts = [p["text"] for p in _payloads(hook)]
    assert all(f"{UI}/runs/{sample_run.report.run_id}" in t for t in texts)
    assert all("KPI anomaly" in t and "marts/kpi_anomalies" in t for t in texts)
    _tick(alert_on_kpi_anomalies, instance, tick.cursor, resources)
    assert len(hook.log) == flagged
