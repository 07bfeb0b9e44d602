"""The flagged-row alert sensors (orchestration/alerts/flagged.py) on a real published serving
database, a real Dagster instance, a real webhook receiver (pytest-httpserver) and a real SMTP
server (aiosmtpd): each flagged product-day of marts.product_sales_alerts alerts once through
every sink; kpi_anomalies goes through the same path."""

from __future__ import annotations

import json
import socket
from datetime import date
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from orchestration.alerts import AlertResource
from orchestration.alerts.flagged import alert_on_kpi_anomalies, alert_on_product_sales_alerts
from orchestration.assets.publish import ServingResource, write_serving_copy

HOOK = "/hooks/T1/B2/product-token"
UI = "http://dagster.test:3000"
PRODUCT_COLUMNS = """
    business_date DATE, product_id VARCHAR, units_sold BIGINT, baseline_mean DOUBLE,
    baseline_std DOUBLE, z_score DOUBLE, is_alert BOOLEAN, baseline_points BIGINT,
    direction VARCHAR
"""
ANOMALY_COLUMNS = """
    business_date DATE, kpi VARCHAR, value DOUBLE, baseline_mean DOUBLE, baseline_std DOUBLE,
    z_score DOUBLE, is_anomaly BOOLEAN, baseline_points BIGINT, direction VARCHAR
"""


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def smtp():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def resources(httpserver: HTTPServer, smtp, tmp_path: Path) -> dict:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    controller, _ = smtp
    alerts = AlertResource(
        webhook_url=httpserver.url_for(HOOK),
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_starttls=False,
        email_to="ops@example.org",
        ui_url=UI,
        backoff_seconds=0.01,
    )
    return {"alerts": alerts, "serving": ServingResource(dir=str(tmp_path / "serving"))}


def _publish(tmp_path: Path, mart: str, columns: str, rows: list[tuple], run_id: str) -> None:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
        conn.execute(f"CREATE OR REPLACE TABLE marts.{mart} ({columns})")
        conn.executemany(f"INSERT INTO marts.{mart} VALUES ({', '.join('?' * 9)})", rows)
        write_serving_copy(conn, tmp_path / "serving", run_id, [mart], keep=3)
    finally:
        conn.close()


def _product(day: str, product: str, units: int, z: float | None) -> tuple:
    alert = z is not None and abs(z) > 3
    direction = ("up" if z > 0 else "down") if alert else None
    return (date.fromisoformat(day), product, units, 10.0, 2.0, z, alert, 4, direction)


def _tick(sensor, instance, cursor, resources):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return sensor.evaluate_tick(context)


def _texts(httpserver: HTTPServer) -> list[str]:
    return [json.loads(request.get_data())["text"] for request, _ in httpserver.log]


def test_each_flagged_product_day_alerts_once_through_webhook_and_email(
    instance, resources, httpserver: HTTPServer, smtp, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("ANOMALY_ALERT_LOOKBACK_DAYS", "7")
    _, inbox = smtp
    rows = [
        _product("2025-01-01", "P-OLD", 0, -5.0),  # outside the 7-day window: history
        _product("2025-02-27", "P-1", 0, -5.0),  # a collapse to zero
        _product("2025-02-27", "P-2", 11, 0.5),  # ordinary
        _product("2025-02-28", "P-2", 3, None),  # not judged
    ]
    _publish(tmp_path, "product_sales_alerts", PRODUCT_COLUMNS, rows, "run-one")
    first = _tick(alert_on_product_sales_alerts, instance, None, resources)
    (text,) = _texts(httpserver)
    for expected in (
        "Product sales alert: P-1 on 2025-02-27",
        "P-1 on 2025-02-27 went down: units_sold 0",
        "baseline of 10 ± 2 (z = -5)",
        "marts/product_sales_alerts",
        f"{UI}/runs/run-one",
    ):
        assert expected in text, expected
    (message,) = inbox.messages
    assert message["Subject"] == "[warehouse] [WARN] Product sales alert: P-1 on 2025-02-27"
    assert "Expected: 10" in message.get_payload(decode=True).decode()

    # the same publish: nothing; a new publish with two more flags (a jump the next day of
    # an alerted product, another product the same day): exactly those, one per product-day
    second = _tick(alert_on_product_sales_alerts, instance, first.cursor, resources)
    assert len(httpserver.log) == 1
    rows += [_product("2025-02-28", "P-1", 30, 10.0), _product("2025-02-27", "P-3", 0, -4.0)]
    _publish(tmp_path, "product_sales_alerts", PRODUCT_COLUMNS, rows, "run-two")
    third = _tick(alert_on_product_sales_alerts, instance, second.cursor, resources)
    new = _texts(httpserver)[1:]
    assert len(new) == 2 and len(inbox.messages) == 3
    assert "P-3 on 2025-02-27" in new[0] and "P-1 on 2025-02-28" in new[1]
    assert "went up: units_sold 30" in new[1] and f"{UI}/runs/run-two" in new[1]
    # re-publishing identical marts (a re-run) alerts nothing again
    _publish(tmp_path, "product_sales_alerts", PRODUCT_COLUMNS, rows, "run-three")
    _tick(alert_on_product_sales_alerts, instance, third.cursor, resources)
    assert len(httpserver.log) == 3


def test_kpi_anomalies_go_through_the_same_path(
    instance, resources, httpserver: HTTPServer, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("ANOMALY_ALERT_LOOKBACK_DAYS", "7")
    flagged = (date(2025, 2, 27), "gmv", 123.0, 2.0, 1.5, 5.0, True, 4, "up")
    ordinary = (date(2025, 2, 28), "gmv", 10.0, 2.0, 1.5, 0.3, False, 4, None)
    _publish(tmp_path, "kpi_anomalies", ANOMALY_COLUMNS, [flagged, ordinary], "run-one")
    tick = _tick(alert_on_kpi_anomalies, instance, None, resources)
    (text,) = _texts(httpserver)
    for expected in ("KPI anomaly: gmv on 2025-02-27", "went up: value 123", "z = 5", "run-one"):
        assert expected in text, expected
    _tick(alert_on_kpi_anomalies, instance, tick.cursor, resources)
    assert len(httpserver.log) == 1


def test_nothing_published_yet(instance, resources):
    tick = _tick(alert_on_product_sales_alerts, instance, None, resources)
    assert tick.skip_message and "nothing published" in tick.skip_message


@pytest.mark.slow
def test_product_sensor_reads_the_real_published_mart(
    sample_run, instance, httpserver: HTTPServer, monkeypatch
):
    """On the session's pipeline run: the sample's planted sales collapse is flagged, and each
    flagged product-day of the published mart alerts once (serving.duckdb, not the warehouse)."""
    monkeypatch.setenv("ANOMALY_ALERT_LOOKBACK_DAYS", "400")  # the whole 91-day sample
    ((flagged, products),) = sample_run.query(
        "SELECT count(*), count(DISTINCT product_id) FROM marts.product_sales_alerts "
        "WHERE is_alert",
        db=sample_run.serving / "serving.duckdb",
    )
    assert flagged > 0
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    resources = {
        "alerts": AlertResource(webhook_url=httpserver.url_for(HOOK), ui_url=UI),
        "serving": ServingResource(dir=str(sample_run.serving)),
    }
    tick = _tick(alert_on_product_sales_alerts, instance, None, resources)
    texts = _texts(httpserver)
    assert len(texts) == flagged
    assert all("Product sales alert" in t and "marts/product_sales_alerts" in t for t in texts)
    assert len({t.split(": ", 1)[1].split(" on ")[0] for t in texts}) == products
    _tick(alert_on_product_sales_alerts, instance, tick.cursor, resources)
    assert len(httpserver.log) == flagged
