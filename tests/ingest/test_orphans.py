"""Rows delivered before their parent: held in raw_held, released when it comes, else quarantined.

Two systems export at different hours, so an order line, payment, refund or review may land a
dt before its order. The ingest holds such a row (its only fault being the unknown order),
re-checks every held row on each load of its feed (one without files too), releases it into
raw with its own lineage when the order is loaded, and quarantines it once the newest dt of
orders is more than ORPHAN_GRACE_DAYS days after the row's own dt.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import cli
from orchestration.assets.ingest import (
    HELD_CHECK,
    QUARANTINE_CHECK,
    LandingResource,
    build_ingest_asset,
    raw_asset_key,
)
from orchestration.contract import FEEDS
from orchestration.ingest.landing import LandingFile, discover_feed_files
from orchestration.ingest.loader import LoadStats, load_feed
from orchestration.partitions import DateRange
from orchestration.resources import WarehouseResource
from tests.conftest import mart_rows

ORDER_HEADER = (
    "order_id,customer_id,order_ts,platform,status,coupon_code,discount_amount,shipping_fee,"
    "promised_delivery_date,shipped_ts,delivered_ts,cancelled_ts,updated_ts"
)
ITEM_HEADER = "order_id,line_number,product_id,quantity,unit_price"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_landing"


def order_row(order_id: str, day: str) -> str:
    return f"{order_id},c1,{day} 10:00:00,web,paid,,0,0,,,,,{day} 10:00:00\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def deliver_orders(root: Path, day: str, *order_ids: str) -> None:
    rows = "".join(order_row(o, day) for o in order_ids)
    write(root / f"orders/dt={day}/orders.csv", f"{ORDER_HEADER}\n{rows}")


def deliver_items(root: Path, day: str, rows: str) -> None:
    write(root / f"order_items/dt={day}/items.csv", f"{ITEM_HEADER}\n{rows}")


def load_day(
    conn: duckdb.DuckDBPyConnection, root: Path, day: str, load_id: str, grace: int = 3
) -> LoadStats:
    """Load dt `day` of orders, then of order_items (none is fine), as one run of the assets."""
    dt = date.fromisoformat(day)

    def files(feed: str) -> list[LandingFile]:
        return [f for f in discover_feed_files(root, feed) if f.partition_dt == dt]

    load_feed(conn, FEEDS["orders"], files("orders"), root, load_id)
    return load_feed(conn, FEEDS["order_items"], files("order_items"), root, load_id, "raw", grace)


def rows_balance(stats: LoadStats) -> bool:
    return stats.rows_read == (
        stats.rows_loaded + stats.rows_quarantined + stats.rows_superseded + stats.rows_held
    )


def test_item_before_its_order_is_held_then_released_with_its_lineage(conn, tmp_path):
    deliver_orders(tmp_path, "2025-03-01", "o1")
    deliver_items(tmp_path, "2025-03-01", "o1,1,p1,1,10.00\no9,1,p1,2,5.00\no9,2,p2,1,1.00\n")
    deliver_orders(tmp_path, "2025-03-02", "o9")

    first = load_day(conn, tmp_path, "2025-03-01", "run1")
    assert (first.rows_read, first.rows_loaded, first.rows_held) == (3, 1, 2)
    assert (first.rows_quarantined, first.rows_waiting) == (0, 2)
    assert rows_balance(first)
    assert first.waiting_reasons == {"order_id: 'o9' not found in raw.orders.order_id": 2}
    assert conn.execute("SELECT count(*) FROM raw_quarantine.order_items").fetchone() == (0,)
    held_at = conn.execute("SELECT max(_loaded_at) FROM raw.order_items").fetchone()[0]

    # dt 03-02 brings the order and no order_items file: the re-check still runs.
    second = load_day(conn, tmp_path, "2025-03-02", "run2")
    assert (second.files, second.rows_read) == (0, 0)
    assert (second.rows_released, second.rows_waiting, second.rows_in_raw) == (2, 0, 3)
    got = conn.execute(
        "SELECT order_id, line_number, quantity, _source_file, _source_row, "
        "_partition_dt::VARCHAR, _load_id, _loaded_at > ? FROM raw.order_items "
        "WHERE order_id = 'o9' ORDER BY line_number",
        [held_at],
    ).fetchall()
    assert got == [
        ("o9", 1, 2, "order_items/dt=2025-03-01/items.csv", 2, "2025-03-01", "run2", True),
        ("o9", 2, 1, "order_items/dt=2025-03-01/items.csv", 3, "2025-03-01", "run2", True),
    ]
    assert conn.execute("SELECT count(*) FROM raw_held.order_items").fetchone() == (0,)

    # Loading dt 03-01 again finds the released rows identical: nothing changes.
    again = load_feed(
        conn,
        FEEDS["order_items"],
        discover_feed_files(tmp_path, "order_items"),
        tmp_path,
        "run3",
        references_schema="raw",
        orphan_grace_days=3,
    )
    assert (again.rows_loaded, again.rows_inserted, again.rows_replaced) == (3, 0, 0)
    assert (again.rows_held, again.rows_waiting) == (0, 0)


def test_orphan_is_quarantined_once_its_grace_is_over(conn, tmp_path):
    deliver_items(tmp_path, "2025-03-01", "o9,1,p1,2,5.00\n")
    for day in ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"):
        deliver_orders(tmp_path, day, f"o-{day}")
        stats = load_day(conn, tmp_path, day, f"run-{day}", grace=3)
        assert (stats.rows_waiting, stats.rows_held_expired) == (1, 0), day

    deliver_orders(tmp_path, "2025-03-05", "o-late")  # 4 dt days after the item's dt
    stats = load_day(conn, tmp_path, "2025-03-05", "run-05", grace=3)
    assert (stats.rows_waiting, stats.rows_held_expired, stats.rows_released) == (0, 1, 0)
    (row,) = conn.execute(
        "SELECT _source_file, _source_row, _partition_dt::VARCHAR, _reason, _record, _load_id "
        "FROM raw_quarantine.order_items"
    ).fetchall()
    assert row[:4] == (
        "order_items/dt=2025-03-01/items.csv",
        1,
        "2025-03-01",
        "order o9 not delivered within 3 days",
    )
    assert json.loads(row[4])["order_id"] == "o9"
    assert row[5] == "run-05"
    assert conn.execute("SELECT count(*) FROM raw.order_items").fetchone() == (0,)

    # A re-delivery of dt 03-01 holds it again and, still past its grace, quarantines it again.
    again = load_feed(
        conn,
        FEEDS["order_items"],
        discover_feed_files(tmp_path, "order_items"),
        tmp_path,
        "run-again",
        references_schema="raw",
        orphan_grace_days=3,
    )
    assert (again.rows_held, again.rows_held_expired, again.rows_waiting) == (1, 1, 0)
    assert conn.execute("SELECT count(*) FROM raw_quarantine.order_items").fetchone() == (1,)


def test_a_row_with_another_fault_is_quarantined_at_once(conn, tmp_path):
    deliver_orders(tmp_path, "2025-03-01", "o1")
    deliver_items(tmp_path, "2025-03-01", "o9,1,p1,0,5.00\no9,2,p1,1,5.00\no9,2,p1,3,5.00\n")
    stats = load_day(conn, tmp_path, "2025-03-01", "run1")
    # quantity 0 breaks a rule besides the unknown order; line 2 is delivered twice
    assert (stats.rows_quarantined, stats.rows_held, stats.rows_superseded) == (1, 1, 1)
    assert rows_balance(stats)
    assert conn.execute("SELECT _reason FROM raw_quarantine.order_items").fetchall() == [
        ("quantity: 0 below minimum 1; order_id: 'o9' not found in raw.orders.order_id",)
    ]
    assert conn.execute("SELECT line_number, quantity FROM raw_held.order_items").fetchall() == [
        (2, 3)
    ]


# ------------------------------------------------------------------ through the ingest assets


def materialize(root: Path, db: Path, day: str) -> dg.ExecuteInProcessResult:
    resources = {
        "landing": LandingResource(root=str(root)),
        "warehouse": WarehouseResource(path=str(db)),
    }
    assets = [build_ingest_asset(FEEDS[name]) for name in ("orders", "order_items")]
    dt = date.fromisoformat(day)
    tags = DateRange(dt, dt).tags()
    return dg.materialize(assets, resources=resources, raise_on_error=False, tags=tags)


def check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == raw_asset_key("order_items") and e.check_name == name
    ]
    return evaluation


def item_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == raw_asset_key("order_items")
    ]
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def test_assets_warn_while_held_and_quarantine_after_the_grace(tmp_path, monkeypatch):
    monkeypatch.setenv("ORPHAN_GRACE_DAYS", "1")
    root, db = tmp_path / "landing", tmp_path / "w.duckdb"
    deliver_orders(root, "2025-03-01", "o1")
    deliver_items(root, "2025-03-01", "o1,1,p1,1,10.00\no9,1,p1,2,5.00\n")
    result = materialize(root, db, "2025-03-01")
    assert result.success
    held = check(result, HELD_CHECK)
    assert (held.passed, held.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert held.description.startswith("1 rows held for a parent not loaded yet (order_id: 'o9'")
    assert check(result, QUARANTINE_CHECK).passed
    meta = item_metadata(result)
    assert (meta["rows_read"], meta["rows_loaded"], meta["rows_held"]) == (2, 1, 1)

    deliver_orders(root, "2025-03-02", "o2")  # within the grace: still held
    assert not check(materialize(root, db, "2025-03-02"), HELD_CHECK).passed
    deliver_orders(root, "2025-03-03", "o3")  # 2 dt days after the item's: quarantined
    result = materialize(root, db, "2025-03-03")
    assert result.success
    assert check(result, HELD_CHECK).passed
    expired = check(result, QUARANTINE_CHECK)
    assert (expired.passed, expired.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "1 held rows quarantined" in (expired.description or "")
    assert item_metadata(result)["rows_held_expired"] == 1
    with duckdb.connect(str(db), read_only=True) as conn:
        assert conn.execute("SELECT _reason FROM raw_quarantine.order_items").fetchall() == [
            ("order o9 not delivered within 1 days",)
        ]


# ------------------------------------------------------------------ through the whole pipeline


def _two_runs(monkeypatch, root: Path, landing: Path, name: str) -> list[cli.RunReport]:
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monkeypatch.setenv("WAREHOUSE_PATH", str(root / f"{name}.duckdb"))
    monkeypatch.setenv("SERVING_DIR", str(root / f"serving_{name}"))
    monkeypatch.setenv("DBT_VARS", "{business_timezone: UTC}")
    home = root / f"dagster_{name}"
    home.mkdir()
    reports = []
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for first, last in ((date(2025, 2, 20), date(2025, 3, 2)), (date(2025, 3, 3),) * 2):
            report = cli.run_pipeline(instance=instance, dates=DateRange(first, last))
            assert report.ok, (report.failed_steps, report.failed_checks)
            reports.append(report)
    return reports


def _move_line(landing: Path, feed: str, line: str, source: str, target: str) -> None:
    """Move one data line of `feed` from dt `source` to dt `target` (the file is dropped when
    no data line is left), keeping the header."""
    src = landing / feed / f"dt={source}" / f"{feed}.csv"
    header, *rows = src.read_text().splitlines(keepends=True)
    assert line in rows
    rows.remove(line)
    if rows:
        src.write_text(header + "".join(rows))
    else:
        shutil.rmtree(src.parent)
    dst = landing / feed / f"dt={target}" / f"{feed}.csv"
    dst.write_text(dst.read_text() + line)


@pytest.mark.slow
def test_a_line_a_day_before_its_order_reaches_the_marts(tmp_path, monkeypatch):
    o4_item, o4_order = (
        "o4,1,p2,1,50.00\n",
        ("o4,c2,2025-03-03 12:00:00,web,created,,0.00,0.00,2025-03-06,,,,2025-03-03 12:00:00\n"),
    )
    # late: o4's line on dt 03-02, o4 on dt 03-03; together: both on dt 03-02
    late, together = tmp_path / "late", tmp_path / "together"
    shutil.copytree(FIXTURE, late)
    _move_line(late, "order_items", o4_item, "2025-03-03", "2025-03-02")
    shutil.copytree(late, together)
    _move_line(together, "orders", o4_order, "2025-03-03", "2025-03-02")

    first, second = _two_runs(monkeypatch, tmp_path, late, "late")
    assert "raw/order_items:orphans_held" in first.warned_checks
    assert "order_id: 'o4'" in first.check_causes["raw/order_items:orphans_held"]
    for name in ("orphans_held", "quarantine_share"):  # released: none held, none quarantined
        assert f"raw/order_items:{name}" not in second.warned_checks + second.failed_checks
    _two_runs(monkeypatch, tmp_path, together, "together")
    marts = mart_rows(tmp_path / "late.duckdb")
    assert len(marts) >= 20
    assert marts == mart_rows(tmp_path / "together.duckdb")
    with duckdb.connect(str(tmp_path / "late.duckdb"), read_only=True) as conn:
        assert conn.execute(
            "SELECT _partition_dt::VARCHAR, _source_file FROM raw.order_items WHERE order_id = 'o4'"
        ).fetchall() == [("2025-03-02", "order_items/dt=2025-03-02/order_items.csv")]


def test_validate_landing_counts_orphans_as_the_ingest_would(tmp_path):
    from orchestration import deployment
    from orchestration.validate_landing import validate

    deliver_orders(tmp_path, "2025-03-01", "o1")
    deliver_items(tmp_path, "2025-03-01", "o1,1,p1,1,10.00\no9,1,p1,2,5.00\n")
    deliver_items(tmp_path, "2025-03-04", "o8,1,p1,2,5.00\n")  # no order o8 anywhere
    deliver_orders(tmp_path, "2025-03-05", "o2")  # orders reach 4 dt days after 03-01
    report = validate(tmp_path, deployment.Deployment(source="test"))
    items = report.feeds["order_items"]
    assert (items.rows, items.rows_held, items.rows_quarantined) == (3, 1, 1)
    assert items.quarantine_reasons == {"order o9 not delivered within 3 days": 1}
    (held,) = [p for p in report.problems if p.kind == "held"]
    assert (held.severity, held.feed) == ("warning", "order_items")
    assert held.message.startswith("1 rows name an order that is not in the landing: held")
