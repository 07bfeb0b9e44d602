"""Ingest of hand-written landing files into a real DuckDB file."""

from __future__ import annotations

import gzip
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.contract import FEEDS
from orchestration.ingest.landing import LandingFileError, discover_feed_files
from orchestration.ingest.loader import load_feed

ORDER_HEADER = (
    "order_id,customer_id,order_ts,platform,status,coupon_code,discount_amount,shipping_fee,"
    "promised_delivery_date,shipped_ts,delivered_ts,cancelled_ts,updated_ts"
)


def write(path: Path, text: str, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def load(conn, root: Path, feed: str):
    return load_feed(conn, FEEDS[feed], discover_feed_files(root, feed), root, load_id="t")


def orders_landing(root: Path) -> None:
    write(
        root / "orders/dt=2025-01-01/a.csv",
        f"{ORDER_HEADER}\n"
        "o1,c1,2025-01-01T23:30:00+08:00,web,created,,0,10,2025-01-04,,,,2025-01-01T15:30:00Z\n"
        "o2,c2,2025-01-01 16:30:00,app,paid,X,5.5,0,2025-01-05,,,,2025-01-01 16:31:00\n",
    )
    write(
        root / "orders/dt=2025-01-02/b.csv.gz",
        f"{ORDER_HEADER}\n"
        "o1,c1,2025-01-01T23:30:00+08:00,web,shipped,,0,10,2025-01-04,2025-01-02 10:00:00,,,"
        "2025-01-02 10:00:00\n",
        gz=True,
    )


def test_offsets_become_utc_and_every_partition_keeps_its_version(conn, tmp_path):
    orders_landing(tmp_path)
    stats = load(conn, tmp_path, "orders")
    assert (stats.rows_read, stats.rows_loaded, stats.rows_superseded) == (3, 3, 0)
    rows = conn.execute(
        "SELECT order_id, order_ts, status, discount_amount, _source_file, _source_row, "
        "_partition_dt FROM raw.orders ORDER BY order_id, _partition_dt"
    ).fetchall()
    # 23:30 at +08:00 is 15:30 UTC; o1's two deliveries stay, one per partition (staging picks
    # the newest), so re-delivering dt=2025-01-01 later cannot lose the dt=2025-01-02 version.
    assert rows[0][:3] == ("o1", datetime(2025, 1, 1, 15, 30), "created")
    assert rows[1][:3] == ("o1", datetime(2025, 1, 1, 15, 30), "shipped")
    assert rows[1][4:6] == ("orders/dt=2025-01-02/b.csv.gz", 1)
    assert rows[2][1:4] == (datetime(2025, 1, 1, 16, 30), "paid", Decimal("5.50"))


def test_newest_version_wins_within_a_partition(conn, tmp_path):
    write(
        tmp_path / "orders/dt=2025-01-01/a.csv",
        f"{ORDER_HEADER}\n"
        "o1,c1,2025-01-01 10:00:00,web,paid,,0,0,,,,,2025-01-01 10:05:00\n"
        "o1,c1,2025-01-01 10:00:00,web,created,,0,0,,,,,2025-01-01 10:00:00\n",
    )
    stats = load(conn, tmp_path, "orders")
    assert (stats.rows_read, stats.rows_loaded, stats.rows_superseded) == (2, 1, 1)
    assert conn.execute("SELECT status FROM raw.orders").fetchall() == [("paid",)]


def test_rerun_changes_nothing(conn, tmp_path):
    orders_landing(tmp_path)
    load(conn, tmp_path, "orders")
    first = conn.execute("SELECT * FROM raw.orders ORDER BY ALL").fetchall()
    stats = load_feed(
        conn, FEEDS["orders"], discover_feed_files(tmp_path, "orders"), tmp_path, load_id="t2"
    )
    # Identical rows keep their first load's lineage (_load_id, _loaded_at): nothing to rebuild.
    assert (stats.rows_inserted, stats.rows_replaced, stats.rows_unchanged) == (0, 0, 3)
    assert conn.execute("SELECT * FROM raw.orders ORDER BY ALL").fetchall() == first
    assert conn.execute("SELECT count(*) FROM raw_replaced.orders").fetchone() == (0,)


def test_redelivered_partition_replaces_only_that_partition(conn, tmp_path):
    orders_landing(tmp_path)
    load(conn, tmp_path, "orders")
    # dt=2025-01-01 is re-delivered: o2 is now cancelled, o1's line is gone, o3 is new.
    (tmp_path / "orders/dt=2025-01-01/a.csv").unlink()
    write(
        tmp_path / "orders/dt=2025-01-01/a2.csv",
        f"{ORDER_HEADER}\n"
        "o2,c2,2025-01-01 16:30:00,app,cancelled,X,5.5,0,2025-01-05,,,2025-01-01 18:00:00,"
        "2025-01-01 18:00:00\n"
        "o3,c3,2025-01-01 17:00:00,web,created,,0,0,,,,,2025-01-01 17:00:00\n",
    )
    files = [f for f in discover_feed_files(tmp_path, "orders") if f.partition_dt.day == 1]
    stats = load_feed(conn, FEEDS["orders"], files, tmp_path, load_id="redelivery")
    assert (stats.rows_inserted, stats.rows_replaced, stats.rows_unchanged) == (2, 2, 0)
    assert conn.execute(
        "SELECT order_id, status, _partition_dt::VARCHAR, _load_id FROM raw.orders ORDER BY ALL"
    ).fetchall() == [
        ("o1", "shipped", "2025-01-02", "t"),  # the other partition is untouched
        ("o2", "cancelled", "2025-01-01", "redelivery"),
        ("o3", "created", "2025-01-01", "redelivery"),
    ]
    assert conn.execute(
        "SELECT order_id, status, _load_id, _replaced_by FROM raw_replaced.orders ORDER BY 1"
    ).fetchall() == [("o1", "created", "t", "redelivery"), ("o2", "paid", "t", "redelivery")]
    log = conn.execute(
        "SELECT partition_dt::VARCHAR, rows_read, rows_loaded, rows_inserted, rows_replaced "
        "FROM raw._load_log WHERE load_id = 'redelivery'"
    ).fetchall()
    assert log == [("2025-01-01", 2, 2, 2, 2)]


def test_one_load_mixes_a_redelivered_and_a_first_time_partition(conn, tmp_path):
    orders_landing(tmp_path)
    load(conn, tmp_path, "orders")
    # dt=2025-01-01 again: o1 identical (NULLs included), o2 changed; dt=2025-01-03 is new.
    rows = (tmp_path / "orders/dt=2025-01-01/a.csv").read_text().splitlines()
    write(
        tmp_path / "orders/dt=2025-01-01/a.csv",
        "\n".join([*rows[:2], rows[2].replace(",paid,", ",delivered,")]) + "\n",
    )
    write(
        tmp_path / "orders/dt=2025-01-03/c.csv",
        f"{ORDER_HEADER}\no4,c4,2025-01-03 09:00:00,web,created,,0,0,,,,,2025-01-03 09:00:00\n",
    )
    files = [f for f in discover_feed_files(tmp_path, "orders") if f.partition_dt.day != 2]
    stats = load_feed(conn, FEEDS["orders"], files, tmp_path, load_id="mixed")
    assert (stats.rows_inserted, stats.rows_replaced, stats.rows_unchanged) == (2, 1, 1)
    assert conn.execute(
        "SELECT order_id, status, _partition_dt::VARCHAR, _load_id FROM raw.orders ORDER BY ALL"
    ).fetchall() == [
        ("o1", "created", "2025-01-01", "t"),  # identical: keeps its first load's lineage
        ("o1", "shipped", "2025-01-02", "t"),
        ("o2", "delivered", "2025-01-01", "mixed"),
        ("o4", "created", "2025-01-03", "mixed"),
    ]
    assert conn.execute(
        "SELECT order_id, status, _replaced_by FROM raw_replaced.orders"
    ).fetchall() == [("o2", "paid", "mixed")]
    assert conn.execute(
        "SELECT partition_dt::VARCHAR, rows_read, rows_loaded, rows_inserted, rows_replaced "
        "FROM raw._load_log WHERE load_id = 'mixed' ORDER BY 1"
    ).fetchall() == [("2025-01-01", 2, 2, 1, 1), ("2025-01-03", 1, 1, 1, 0)]


def test_reference_to_an_order_of_any_loaded_partition(conn, tmp_path):
    orders_landing(tmp_path)
    load(conn, tmp_path, "orders")
    header = "order_id,line_number,product_id,quantity,unit_price\n"
    # o1 was delivered on 01-01 and 01-02, o2 on 01-01; o9 is unknown, a missing id is "missing".
    write(
        tmp_path / "order_items/dt=2025-01-03/i.csv",
        f"{header}o1,1,p1,1,1.00\no1,2,p2,1,1.00\no2,1,p1,2,3.00\no9,1,p1,1,1.00\n,1,p1,1,1.00\n",
    )
    stats = load_feed(
        conn,
        FEEDS["order_items"],
        discover_feed_files(tmp_path, "order_items"),
        tmp_path,
        load_id="t",
        references_schema="raw",
    )
    assert (stats.rows_loaded, stats.rows_quarantined) == (3, 2)
    assert conn.execute(
        "SELECT _source_row, _reason FROM raw_quarantine.order_items ORDER BY 1"
    ).fetchall() == [
        (4, "order_id: 'o9' not found in raw.orders.order_id"),
        (5, "order_id: missing"),
    ]


def test_unparseable_value_is_quarantined_and_siblings_load(conn, tmp_path):
    write(
        tmp_path / "orders/dt=2025-01-01/a.csv",
        f"{ORDER_HEADER}\n"
        "o1,c1,2025-01-01 10:00:00,web,paid,,0,0,,,,,2025-01-01 10:00:00\n"
        "o2,c1,not-a-time,web,paid,,0,0,,,,,2025-01-01 10:00:00\n"
        "o3,c1,2025-01-01 10:00:00,web,paid,,abc,0,,,,,2025-01-01 10:00:00\n"
        ",c1,2025-01-01 10:00:00,web,paid,,0,0,,,,,2025-01-01 10:00:00\n",
    )
    stats = load(conn, tmp_path, "orders")
    assert stats.rows_read == stats.rows_loaded + stats.rows_quarantined + stats.rows_superseded
    assert (stats.rows_loaded, stats.rows_quarantined) == (1, 3)
    reasons = conn.execute(
        "SELECT _source_row, _reason FROM raw_quarantine.orders ORDER BY 1"
    ).fetchall()
    assert reasons == [
        (2, "order_ts: cannot parse 'not-a-time' as TIMESTAMP"),
        (3, "discount_amount: cannot parse 'abc' as DECIMAL(18,2)"),
        (4, "order_id: missing"),
    ]


def test_parquet_and_jsonl_are_read(conn, tmp_path):
    part = tmp_path / "payments/dt=2025-01-01"
    part.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "payment_id": ["p1"],
                "order_id": ["o1"],
                "attempt_ts": [datetime(2025, 1, 1, 16)],
                "method": ["card"],
                "amount": [10.25],
                "status": ["success"],
            }
        ),
        part / "p.parquet",
    )
    write(
        tmp_path / "payments/dt=2025-01-02/p.jsonl",
        '{"payment_id":"p2","order_id":"o1","attempt_ts":"2025-01-02T01:00:00Z",'
        '"method":"card","amount":3,"status":"failed"}\n',
    )
    stats = load(conn, tmp_path, "payments")
    assert stats.files_by_format == {"parquet": 1, "json": 1}
    assert conn.execute("SELECT payment_id, amount FROM raw.payments ORDER BY 1").fetchall() == [
        ("p1", Decimal("10.25")),
        ("p2", Decimal("3.00")),
    ]


@pytest.mark.parametrize(
    ("relative", "content", "gz", "expected"),
    [
        ("orders/dt=2025-01-02/x.csv", "order_id,customer_id\no9,c9\n", False, "missing required"),
        ("orders/dt=2025-01-02/x.csv", "", False, "empty file"),
        ("orders/dt=2025-01-02/x.txt", "hello", False, "unsupported file type"),
        ("orders/2025-01-02/x.csv", f"{ORDER_HEADER}\n", False, "dt=YYYY-MM-DD"),
    ],
)
def test_bad_file_is_rejected_and_raw_is_unchanged(conn, tmp_path, relative, content, gz, expected):
    orders_landing(tmp_path)
    load(conn, tmp_path, "orders")
    before = conn.execute("SELECT * FROM raw.orders ORDER BY 1").fetchall()
    write(tmp_path / relative, content, gz=gz)
    with pytest.raises(LandingFileError, match=expected) as info:
        load(conn, tmp_path, "orders")
    assert info.value.file.endswith(Path(relative).name) or "2025-01-02" in info.value.file
    assert conn.execute("SELECT * FROM raw.orders ORDER BY 1").fetchall() == before


def test_truncated_gzip_names_the_file(conn, tmp_path):
    orders_landing(tmp_path)
    body = ORDER_HEADER + "\n" + "o5,c5,2025-01-02 01:00:00,web,paid,,0,0,,,,,2025-01-02 01:00:00\n"
    full = gzip.compress(body.encode() * 200, mtime=0)
    bad = tmp_path / "orders/dt=2025-01-03/t.csv.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(full[: len(full) // 2 + 20])
    with pytest.raises(LandingFileError) as info:
        load(conn, tmp_path, "orders")
    assert info.value.file == str(bad)


def test_feed_without_files_is_an_empty_contract_table(conn, tmp_path):
    stats = load(conn, tmp_path, "reviews")
    assert stats.rows_loaded == 0
    cols = [r[0] for r in conn.execute("DESCRIBE raw.reviews").fetchall()]
    assert cols[: len(FEEDS["reviews"].columns)] == list(FEEDS["reviews"].columns)


def test_column_order_and_extra_columns_may_differ_between_files(conn, tmp_path):
    write(
        tmp_path / "payments/dt=2025-01-01/a.csv.gz",
        "payment_id,order_id,attempt_ts,method,amount,status\n"
        "p1,o1,2025-01-01 10:00:00,card,10.00,success\n",
        gz=True,
    )
    write(
        tmp_path / "payments/dt=2025-01-02/b.csv.gz",
        "status,amount,method,attempt_ts,order_id,payment_id,gateway_ref\n"
        "failed,5.00,alipay,2025-01-02 10:00:00,o2,p2,GW-77\n",
        gz=True,
    )
    stats = load(conn, tmp_path, "payments")
    assert stats.rows_loaded == 2
    assert conn.execute(
        "SELECT payment_id, order_id, method, amount, status FROM raw.payments ORDER BY 1"
    ).fetchall() == [
        ("p1", "o1", "card", Decimal("10.00"), "success"),
        ("p2", "o2", "alipay", Decimal("5.00"), "failed"),
    ]


def test_hundreds_of_gzip_partitions_load(conn, tmp_path):
    # union_by_name over this many compressed files ran DuckDB out of memory; layouts don't.
    header = "payment_id,order_id,attempt_ts,method,amount,status\n"
    for day in range(400):
        write(
            tmp_path
            / f"payments/dt=2024-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}/p{day}.csv.gz",
            header + f"p{day},o{day},2024-01-01 00:00:00,card,1.00,success\n",
            gz=True,
        )
    assert load(conn, tmp_path, "payments").rows_loaded == 400
