"""Daily partitions: ranges, the landing sensor, the schedule, and partitioned ingest in Dagster."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.assets.ingest import LandingResource, build_ingest_asset
from orchestration.contract import FEEDS
from orchestration.jobs import daily_full_pipeline
from orchestration.partitions import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    DateRange,
    landing_range,
    partition_fingerprints,
)
from orchestration.resources import WarehouseResource
from orchestration.sensors import landing_sensor, plan_landing_run

PAYMENT_HEADER = "payment_id,order_id,attempt_ts,method,amount,status"
ORDER_HEADER = (
    "order_id,customer_id,order_ts,platform,status,coupon_code,discount_amount,shipping_fee,"
    "promised_delivery_date,shipped_ts,delivered_ts,cancelled_ts,updated_ts"
)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def order_line(order_id: str, day: int, status: str = "paid", updated_hour: int = 10) -> str:
    ts = f"2025-03-0{day} 09:00:00"
    return f"{order_id},c1,{ts},web,{status},,0,0,,,,,2025-03-0{day} {updated_hour}:00:00"


def deliver_orders(root: Path, day: int, lines: list[str], name: str = "orders.csv") -> None:
    write(root / f"orders/dt=2025-03-0{day}/{name}", ORDER_HEADER + "\n" + "\n".join(lines) + "\n")


def range_tags(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


# ---------------------------------------------------------------------------- ranges


def test_landing_range_spans_every_feed(tmp_path):
    deliver_orders(tmp_path, 2, [order_line("o1", 2)])
    write(tmp_path / "payments/dt=2025-03-05/p.csv", PAYMENT_HEADER + "\n")
    assert landing_range(tmp_path) == DateRange(date(2025, 3, 2), date(2025, 3, 5))
    assert landing_range(tmp_path / "nothing") is None


def test_range_before_partitions_start_is_refused_with_the_setting_to_change():
    with pytest.raises(ValueError, match="PARTITIONS_START_DATE"):
        DateRange(date(2019, 12, 31), date(2020, 1, 2)).tags()
    with pytest.raises(ValueError, match="empty date range"):
        DateRange(date(2025, 1, 2), date(2025, 1, 1))


# ---------------------------------------------------------------------------- landing sensor


def test_plan_waits_for_a_delivery_to_settle():
    fingerprints = {"2025-03-01": ("a", 100.0), "2025-03-03": ("b", 190.0)}
    dates, cursor, settling = plan_landing_run(fingerprints, {}, now=200.0, settle=30)
    assert dates == DateRange(date(2025, 3, 1), date(2025, 3, 1))
    assert settling == ["2025-03-03"]
    assert cursor == {"2025-03-01": "a"}  # the settling date is looked at again next tick
    dates, cursor, settling = plan_landing_run(fingerprints, cursor, now=300.0, settle=30)
    assert (dates, settling) == (DateRange(date(2025, 3, 3), date(2025, 3, 3)), [])


def test_landing_sensor_requests_one_run_per_change(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("LANDING_SETTLE_SECONDS", "0")
    deliver_orders(tmp_path, 1, [order_line("o1", 1)])
    deliver_orders(tmp_path, 2, [order_line("o2", 2)])

    first = landing_sensor(dg.build_sensor_context())
    assert isinstance(first, dg.SensorResult)
    (request,) = first.run_requests
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-03-01"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-03-02"

    again = landing_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(again, dg.SkipReason)

    # A re-delivery of dt=2025-03-02 (new file content and mtime) and a late dt=2025-03-04.
    deliver_orders(tmp_path, 2, [order_line("o2", 2, "cancelled", 11)])
    os.utime(tmp_path / "orders/dt=2025-03-02/orders.csv", (1e9, 1e9))
    deliver_orders(tmp_path, 4, [order_line("o4", 4)])
    third = landing_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(third, dg.SensorResult)
    (request,) = third.run_requests
    assert (
        request.tags[ASSET_PARTITION_RANGE_START_TAG],
        request.tags[ASSET_PARTITION_RANGE_END_TAG],
    ) == (
        "2025-03-02",
        "2025-03-04",
    )
    assert request.run_key != first.run_requests[0].run_key
    assert set(json.loads(third.cursor)) == set(partition_fingerprints(tmp_path))


def test_landing_sensor_skips_a_malformed_landing(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDING_DIR", str(tmp_path))
    (tmp_path / "orders" / "2025-03-01").mkdir(parents=True)
    result = landing_sensor(dg.build_sensor_context())
    assert isinstance(result, dg.SkipReason)
    assert "dt=YYYY-MM-DD" in str(result.skip_message)


def test_daily_schedule_reloads_the_last_days(monkeypatch):
    monkeypatch.setenv("SCHEDULE_LOOKBACK_DAYS", "3")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 10, 2, 30, tzinfo=UTC)
    )
    request = daily_full_pipeline(context)
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2025-03-08"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2025-03-10"


# ---------------------------------------------------------------------------- partitioned ingest


@pytest.fixture
def ingest(tmp_path):
    """Materialize raw/orders for a dt range in a real Dagster instance; returns a row reader."""
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    asset = build_ingest_asset(FEEDS["orders"])
    resources = {
        "landing": LandingResource(root=str(landing)),
        "warehouse": WarehouseResource(path=str(db)),
    }

    def run(first: str, last: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [asset], resources=resources, instance=instance, tags=range_tags(first, last)
        )

    def rows(sql: str) -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as conn:
            return conn.execute(sql).fetchall()

    return landing, run, rows


def test_a_range_is_one_run_and_rerunning_it_changes_nothing(ingest):
    landing, run, rows = ingest
    for day in (1, 2, 3):
        deliver_orders(landing, day, [order_line(f"o{day}", day)])
    result = run("2025-03-01", "2025-03-03")
    assert result.success
    materialized = result.get_asset_materialization_events()
    assert sorted(e.partition for e in materialized) == ["2025-03-01", "2025-03-02", "2025-03-03"]
    first = rows("SELECT * FROM raw.orders ORDER BY ALL")
    assert len(first) == 3

    assert run("2025-03-01", "2025-03-03").success
    assert rows("SELECT * FROM raw.orders ORDER BY ALL") == first  # lineage included
    assert rows("SELECT count(*) FROM raw_replaced.orders") == [(0,)]


def test_late_and_redelivered_partitions(ingest):
    landing, run, rows = ingest
    deliver_orders(landing, 1, [order_line("o1", 1), order_line("o2", 1)])
    deliver_orders(landing, 2, [order_line("o1", 1, "shipped", 12)])
    assert run("2025-03-01", "2025-03-02").success

    # dt=2025-03-01 is re-delivered with o2 cancelled, and dt=2025-03-05 arrives late; the
    # one-day run for 03-05 leaves 03-01's old delivery alone until 03-01 itself is re-run.
    deliver_orders(landing, 1, [order_line("o1", 1), order_line("o2", 1, "cancelled", 11)])
    deliver_orders(landing, 5, [order_line("o5", 5)])
    assert run("2025-03-05", "2025-03-05").success
    assert rows("SELECT order_id, status FROM raw.orders WHERE order_id = 'o2'") == [("o2", "paid")]
    assert rows("SELECT count(*) FROM raw.orders WHERE order_id = 'o5'") == [(1,)]

    assert run("2025-03-01", "2025-03-01").success
    assert rows("SELECT order_id, status, _partition_dt::VARCHAR FROM raw.orders ORDER BY ALL") == [
        ("o1", "paid", "2025-03-01"),  # unchanged row, kept as loaded the first time
        ("o1", "shipped", "2025-03-02"),  # the other partition's version is untouched
        ("o2", "cancelled", "2025-03-01"),
        ("o5", "paid", "2025-03-05"),
    ]
    assert rows("SELECT order_id, status FROM raw_replaced.orders") == [("o2", "paid")]


def test_a_date_without_files_keeps_what_it_loaded(ingest):
    landing, run, rows = ingest
    deliver_orders(landing, 1, [order_line("o1", 1)])
    deliver_orders(landing, 3, [order_line("o3", 3)])
    assert run("2025-03-01", "2025-03-03").success
    (landing / "orders/dt=2025-03-01/orders.csv").unlink()
    assert run("2025-03-01", "2025-03-02").success
    assert rows("SELECT order_id FROM raw.orders ORDER BY 1") == [("o1",), ("o3",)]
