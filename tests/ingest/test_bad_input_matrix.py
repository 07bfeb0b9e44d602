"""Bad-input matrix: one landing problem per case, on a copy of tests/fixtures/handwritten_landing.

Each case changes one feed's files and loads that feed (after raw.orders, which the referential
rules read). A rejected file must raise a LandingFileError naming the file (and the line where
known) and leave raw.<feed> and raw_quarantine.<feed> exactly as they were; a row problem must
put exactly the expected rows in quarantine with their reason while the siblings load. Every
case checks the ingest invariant on rows counted independently from the files:

    rows in = rows_read = rows_loaded + rows_quarantined + rows_superseded
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.assets.ingest import (
    QUARANTINE_CHECK,
    LandingResource,
    build_ingest_asset,
    raw_asset_key,
)
from orchestration.contract import FEEDS
from orchestration.ingest.landing import LandingFileError, discover_feed_files
from orchestration.ingest.loader import LoadStats, load_feed
from orchestration.partitions import landing_range
from orchestration.resources import WarehouseResource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_landing"

ORDERS_03_02 = "orders/dt=2025-03-02/orders.csv"
PAYMENTS_03_02 = "payments/dt=2025-03-02/payments.csv"
REVIEWS = "reviews/dt=2025-03-03/reviews.csv"
ITEMS_03_03 = "order_items/dt=2025-03-03/order_items.csv"
EVENTS_03_02 = "events/dt=2025-03-02/events.csv"


# ------------------------------------------------------------------------------ helpers


def copy_landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    return root


def load(conn: duckdb.DuckDBPyConnection, root: Path, feed: str) -> LoadStats:
    """Load raw.orders (the parent of the referential rules), then `feed`, as the assets do."""
    stats = load_feed(conn, FEEDS["orders"], discover_feed_files(root, "orders"), root, "t")
    if feed == "orders":
        return stats
    schema = "raw" if FEEDS[feed].parents else None
    files = discover_feed_files(root, feed)
    return load_feed(conn, FEEDS[feed], files, root, "t", references_schema=schema)


def snapshot(conn: duckdb.DuckDBPyConnection, feed: str) -> tuple[list[tuple], list[tuple]]:
    return (
        conn.execute(f"SELECT * FROM raw.{feed} ORDER BY ALL").fetchall(),
        conn.execute(f"SELECT * FROM raw_quarantine.{feed} ORDER BY ALL").fetchall(),
    )


def rows_in(root: Path, feed: str) -> int:
    """Data rows delivered for `feed`, counted from the files without DuckDB."""
    total = 0
    for f in discover_feed_files(root, feed):
        data = f.path.read_bytes()
        if f.path.name.endswith(".gz"):
            data = gzip.decompress(data)
        if f.fmt == "csv":
            total += sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig")))) - 1
        elif f.fmt == "json":
            total += sum(1 for line in data.splitlines() if line.strip())
        else:
            total += pq.read_metadata(f.path).num_rows
    return total


def write(rel: str, content: str | bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    return mutate


def append(rel: str, text: str | bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / rel
        path.write_bytes(path.read_bytes() + (text.encode() if isinstance(text, str) else text))

    return mutate


def edit(rel: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        path = root / rel
        path.write_bytes(change(path.read_bytes()))

    return mutate


def rewrite_csv(rel: str, change: Callable[[list[list[str]]], list[list[str]]]):
    def mutate(root: Path) -> None:
        path = root / rel
        rows = change(list(csv.reader(io.StringIO(path.read_text()))))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue())

    return mutate


def fixture_text(rel: str) -> str:
    return (FIXTURE / rel).read_text()


def truncated_gzip(root: Path) -> None:
    header, line = fixture_text(ORDERS_03_02).split("\n")[:2]
    body = header + "\n" + "\n".join(line.replace("o3", f"o3{i}") for i in range(300)) + "\n"
    full = gzip.compress(body.encode(), mtime=0)
    write("orders/dt=2025-03-04/batch.csv.gz", full[: len(full) // 2])(root)


def orders_as_parquet_then_corrupt(root: Path) -> None:
    path = root / "orders/dt=2025-03-04/orders.parquet"
    path.parent.mkdir(parents=True)
    table = pa.table({c: pa.array(["x"], pa.string()) for c in FEEDS["orders"].columns})
    pq.write_table(table, path)
    data = path.read_bytes()
    path.write_bytes(data[:10] + b"\x00" * 40 + data[50:])  # pages overwritten, footer kept


def file_named_like_sql(root: Path) -> None:
    name = "payments/dt=2025-03-03/x'); DROP TABLE raw.orders; --.csv"
    write(
        name,
        "payment_id,order_id,attempt_ts,method,amount,status\n"
        "pay9,o4,2025-03-03 12:01:00,card,50.00,success\n",
    )(root)


ORDERS_HEADER = fixture_text(ORDERS_03_02).split("\n")[0] + "\n"
PAYMENTS_HEADER = "payment_id,order_id,attempt_ts,method,amount,status\n"


def files(**named: str) -> Callable[[Path], None]:
    """Write several files at once: {relative path: content}, as `write` does."""

    def mutate(root: Path) -> None:
        for rel, content in named.items():
            write(rel, content)(root)

    return mutate


def payments_parquet(rel: str, **overrides: pa.Array) -> Callable[[Path], None]:
    """One payment (pay9 of o4) as a parquet file, with some columns replaced by `overrides`."""

    def mutate(root: Path) -> None:
        columns = {
            "payment_id": pa.array(["pay9"]),
            "order_id": pa.array(["o4"]),
            "attempt_ts": pa.array([datetime(2025, 3, 3, 12, 1)], pa.timestamp("us")),
            "method": pa.array(["card"]),
            "amount": pa.array([Decimal("50.00")], pa.decimal128(18, 2)),
            "status": pa.array(["success"]),
        }
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({**columns, **overrides}), path)

    return mutate


def chain(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for change in mutations:
            change(root)

    return mutate


def pandas_parquet(rel: str, frame: dict[str, list], index: list[int]) -> Callable[[Path], None]:
    """A parquet file as pandas writes it: a non-default index becomes `__index_level_0__`,
    floats for integers, nanosecond timestamps with a zone."""

    def mutate(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(frame, index=index).to_parquet(path)

    return mutate


def parquet_file(rel: str, table: dict[str, pa.Array], **options) -> Callable[[Path], None]:
    """A parquet file of `table`, written with pyarrow `options` (as another tool would)."""

    def mutate(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(table), path, **options)

    return mutate


def payment_json(n: int, **values: str) -> str:
    """One JSON line: payment pay<n> of o4, with some keys' raw JSON text replaced."""
    fields = {
        "payment_id": f'"pay{n}"',
        "order_id": '"o4"',
        "attempt_ts": '"2025-03-03T12:01:00Z"',
        "method": '"card"',
        "amount": "50",
        "status": '"failed"',
        **values,
    }
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"


def excel_csv(rel: str, rows: list[str]) -> Callable[[Path], None]:
    """A CSV as Excel saves it ("CSV UTF-8"): BOM, CRLF, and a trailing empty column."""
    return write(rel, b"\xef\xbb\xbf" + "".join(r + ",\r\n" for r in rows).encode())


# ------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    feed: str
    mutate: Callable[[Path], None]
    # rejected file: (file relative to the landing, line or None, reason regex)
    reject: tuple[str, int | None, str] | None = None
    # quarantined rows, exactly: (file relative to the landing, data row, reason regex)
    quarantine: tuple[tuple[str, int, str], ...] = ()
    superseded: int = 0
    # SQL over the loaded tables → expected rows (siblings loaded, values as delivered)
    expect: tuple[tuple[str, list[tuple]], ...] = field(default=())


SQL_LIKE_NAMES = ['a"b', "[x]", "x); drop table raw.orders; --", "'", "", "AMOUNT"]
ORDER_ROW = "o5,c1,2025-03-02 12:00:00,web,paid,,0.00,0.00,2025-03-05,,,,2025-03-02 12:00:00\n"
REVIEW_HEADER = "review_id,order_id,product_id,customer_id,rating,review_text,review_ts\n"
TEXT = "SELECT review_id, review_text FROM raw.reviews ORDER BY 1"
JSONL = "payments/dt=2025-03-03/payments.jsonl"
PARQUET = "payments/dt=2025-03-03/payments.parquet"
NEW_ORDERS = "orders/dt=2025-03-04/orders.csv"
PAYMENTS_03_02_ADDED = (
    "SELECT payment_id, attempt_ts, method, amount, status FROM raw.payments "
    "WHERE payment_id NOT IN ('pay1', 'pay2', 'pay3', 'pay4') ORDER BY _source_row"
)
PAYMENTS_03_03 = (
    "SELECT payment_id, order_id, attempt_ts, method, amount, status, _source_row "
    "FROM raw.payments WHERE _partition_dt = DATE '2025-03-03' ORDER BY _source_row"
)

CASES = {
    # ---- file-level: the file is rejected whole, raw stays as it was
    "missing_column": Case(
        "orders",
        rewrite_csv(ORDERS_03_02, lambda rows: [r[:4] + r[5:] for r in rows]),
        reject=(ORDERS_03_02, 1, r"missing required column\(s\) status"),
    ),
    "missing_column_near_miss": Case(
        "orders",
        edit(ORDERS_03_02, lambda b: b.replace(b",status,", b",Order Status,", 1)),
        reject=(ORDERS_03_02, 1, r"^missing required column\(s\) status$"),
    ),
    "missing_column_cased": Case(
        "orders",
        edit(ORDERS_03_02, lambda b: b.replace(b",status,", b", Status ,", 1)),
        reject=(
            ORDERS_03_02,
            1,
            r"^missing required column\(s\) status \(found instead: Status\)$",
        ),
    ),
    "invalid_utf8": Case(
        "reviews",
        append(REVIEWS, b"rv2,o3,p1,c1,5,tr\xe8s bien,2025-03-03 19:00:00\n"),
        reject=(REVIEWS, 3, r"(?i)invalid unicode.*not utf-8"),
    ),
    "empty_file": Case(
        "orders",
        write("orders/dt=2025-03-04/orders.csv", ""),
        reject=("orders/dt=2025-03-04/orders.csv", None, "empty file"),
    ),
    "truncated_gzip": Case(
        "orders",
        truncated_gzip,
        reject=("orders/dt=2025-03-04/batch.csv.gz", None, "(?i)end of gzip stream"),
    ),
    "wrong_compression_gzip_named_csv": Case(
        "orders",
        write(
            "orders/dt=2025-03-04/orders.csv", gzip.compress(fixture_text(ORDERS_03_02).encode())
        ),
        reject=("orders/dt=2025-03-04/orders.csv", 1, "gzip-compressed data.*expected .csv.gz"),
    ),
    "wrong_compression_plain_named_gz": Case(
        "orders",
        write("orders/dt=2025-03-04/orders.csv.gz", fixture_text(ORDERS_03_02)),
        reject=("orders/dt=2025-03-04/orders.csv.gz", None, "(?i)not a gzipped file"),
    ),
    "corrupt_parquet": Case(
        "orders",
        orders_as_parquet_then_corrupt,
        reject=("orders/dt=2025-03-04/orders.parquet", None, "(?i)failed to read|footer|magic"),
    ),
    "malformed_json_line": Case(
        "payments",
        write(
            "payments/dt=2025-03-03/p.jsonl",
            '{"payment_id":"pay5","order_id":"o4","attempt_ts":"2025-03-03T12:01:00Z",'
            '"method":"card","amount":50,"status":"failed"}\n'
            '{"payment_id":"pay6","order_id":"o4", amount: 50}\n',
        ),
        reject=("payments/dt=2025-03-03/p.jsonl", 2, "malformed JSON"),
    ),
    "row_with_extra_field": Case(
        "orders",
        append(ORDERS_03_02, ORDER_ROW.rstrip("\n") + ",surplus\n"),
        reject=(ORDERS_03_02, 4, "Expected Number of Columns: 13"),
    ),
    "unterminated_quote": Case(
        "reviews",
        append(REVIEWS, 'rv2,o3,p1,c1,5,"never closed,2025-03-03 19:00:00\n'),
        reject=(REVIEWS, 3, "unterminated quote"),
    ),
    "cr_only_line_breaks": Case(
        "orders",
        write("orders/dt=2025-03-04/orders.csv", fixture_text(ORDERS_03_02).replace("\n", "\r")),
        reject=("orders/dt=2025-03-04/orders.csv", 1, r"CR only .*expected LF or CRLF"),
    ),
    "parquet_epoch_integers_in_timestamp_column": Case(
        "payments",
        chain(
            payments_parquet("payments/dt=2025-03-03/a_good.parquet"),
            payments_parquet(
                "payments/dt=2025-03-03/b_epoch.parquet",
                payment_id=pa.array(["pay10"]),
                attempt_ts=pa.array([1741003260], pa.int64()),
            ),
        ),
        reject=(
            "payments/dt=2025-03-03/b_epoch.parquet",
            None,
            r"^column attempt_ts: parquet type BIGINT cannot hold TIMESTAMP$",
        ),
    ),
    "json_duplicate_key": Case(
        "payments",
        write(
            "payments/dt=2025-03-03/p.jsonl",
            '{"payment_id":"pay5","order_id":"o4","attempt_ts":"2025-03-03T12:01:00Z",'
            '"method":"card","amount":50,"status":"failed"}\n'
            '{"payment_id":"pay6","order_id":"o4","attempt_ts":"2025-03-03T12:01:00Z",'
            '"method":"card","amount":50,"amount":5,"status":"failed"}\n',
        ),
        reject=("payments/dt=2025-03-03/p.jsonl", 2, r'^duplicate key "amount"$'),
    ),
    # ---- layout variations that are fine
    "extra_column": Case(
        "payments",
        rewrite_csv(
            PAYMENTS_03_02,
            lambda rows: [[*r, "gw" if i else "gateway_ref"] for i, r in enumerate(rows)],
        ),
        expect=(
            (
                "SELECT payment_id, amount FROM raw.payments WHERE payment_id = 'pay4'",
                [("pay4", Decimal("80.00"))],
            ),
        ),
    ),
    "trailing_comma_unnamed_empty_column": Case(
        "orders",
        edit(ORDERS_03_02, lambda b: b.replace(b"\n", b",\n")),  # header and rows end with ","
        expect=(
            (
                "SELECT order_id, status, updated_ts, _source_row FROM raw.orders "
                "WHERE _partition_dt = DATE '2025-03-02' ORDER BY 1",
                [
                    ("o2", "cancelled", datetime(2025, 3, 2, 1, 0), 1),
                    ("o3", "paid", datetime(2025, 3, 2, 9, 5), 2),
                ],
            ),
        ),
    ),
    "header_names_like_sql": Case(
        "payments",
        rewrite_csv(
            PAYMENTS_03_02,
            lambda rows: [[*rows[0], *SQL_LIKE_NAMES]] + [[*r, *"123456"] for r in rows[1:]],
        ),
        expect=(
            ("SELECT count(DISTINCT order_id) FROM raw.orders", [(4,)]),
            (
                "SELECT payment_id, amount FROM raw.payments WHERE order_id = 'o3' ORDER BY 1",
                [("pay3", Decimal("80.00")), ("pay4", Decimal("80.00"))],
            ),
        ),
    ),
    "duplicate_contract_column": Case(
        "payments",
        rewrite_csv(PAYMENTS_03_02, lambda rows: [[*r, r[4]] for r in rows]),
        reject=(PAYMENTS_03_02, 1, r"^duplicate column\(s\) amount$"),
    ),
    "column_order_changed": Case(
        "payments",
        rewrite_csv(PAYMENTS_03_02, lambda rows: [r[::-1] for r in rows]),
        expect=(
            (
                "SELECT payment_id, order_id, method, amount, status FROM raw.payments "
                "WHERE payment_id IN ('pay3', 'pay4') ORDER BY 1",
                [
                    ("pay3", "o3", "alipay", Decimal("80.00"), "failed"),
                    ("pay4", "o3", "alipay", Decimal("80.00"), "success"),
                ],
            ),
        ),
    ),
    "bom": Case(
        "orders",
        edit(ORDERS_03_02, lambda b: b"\xef\xbb\xbf" + b),
        expect=(
            ("SELECT order_id, status FROM raw.orders WHERE order_id = 'o3'", [("o3", "paid")]),
        ),
    ),
    "header_only": Case(
        "payments",
        write(
            "payments/dt=2025-03-03/payments.csv",
            "payment_id,order_id,attempt_ts,method,amount,status\n",
        ),
        expect=(("SELECT count(*) FROM raw.payments", [(4,)]),),
    ),
    "sql_injection_in_file_name": Case(
        "payments",
        file_named_like_sql,
        expect=(
            ("SELECT count(DISTINCT order_id) FROM raw.orders", [(4,)]),
            (
                "SELECT _source_file FROM raw.payments WHERE payment_id = 'pay9'",
                [("payments/dt=2025-03-03/x'); DROP TABLE raw.orders; --.csv",)],
            ),
        ),
    ),
    "glob_class_in_file_name": Case(
        "orders",
        # `[1]` is a character class to a glob: read as a pattern, it matched `orders 1.csv`
        files(
            **{
                "orders/dt=2025-03-04/orders 1.csv": ORDERS_HEADER + ORDER_ROW,
                "orders/dt=2025-03-04/orders [1].csv": ORDERS_HEADER
                + ORDER_ROW.replace("o5,", "o6,"),
            }
        ),
        expect=(
            (
                "SELECT order_id, _source_file, _source_row FROM raw.orders "
                "WHERE order_id IN ('o5', 'o6') ORDER BY 1",
                [
                    ("o5", "orders/dt=2025-03-04/orders 1.csv", 1),
                    ("o6", "orders/dt=2025-03-04/orders [1].csv", 1),
                ],
            ),
            ("SELECT count(*) FROM raw.orders", [(6,)]),
        ),
    ),
    "glob_star_in_file_name": Case(
        "payments",
        # `part-*.csv` read as a pattern pulled in its sibling's rows too
        files(
            **{
                "payments/dt=2025-03-03/part-*.csv": PAYMENTS_HEADER
                + "pay9,o4,2025-03-03 12:01:00,card,50.00,success\n",
                "payments/dt=2025-03-03/part-1.csv": PAYMENTS_HEADER
                + "pay10,o4,2025-03-03 12:02:00,card,50.00,success\n"
                + "pay11,o4,2025-03-03 12:03:00,card,50.00,success\n",
                "payments/dt=2025-03-03/p?{a,b}.csv": PAYMENTS_HEADER
                + "pay12,o4,2025-03-03 12:04:00,card,50.00,success\n",
            }
        ),
        expect=(
            (
                "SELECT payment_id, _source_file, _source_row FROM raw.payments "
                "WHERE _partition_dt = DATE '2025-03-03' ORDER BY 1",
                [
                    ("pay10", "payments/dt=2025-03-03/part-1.csv", 1),
                    ("pay11", "payments/dt=2025-03-03/part-1.csv", 2),
                    ("pay12", "payments/dt=2025-03-03/p?{a,b}.csv", 1),
                    ("pay9", "payments/dt=2025-03-03/part-*.csv", 1),
                ],
            ),
            ("SELECT count(*) FROM raw.payments", [(8,)]),
        ),
    ),
    # ---- values
    "wrong_type": Case(
        "order_items",
        append(ITEMS_03_03, "o4,2,p1,two,10.00\n"),
        quarantine=((ITEMS_03_03, 2, r"^quantity: cannot parse 'two' as INTEGER$"),),
        expect=(("SELECT count(*) FROM raw.order_items", [(5,)]),),
    ),
    "inexact_integers": Case(
        "order_items",
        append(
            ITEMS_03_03,
            "o4,2,p1,2.5,10.00\no4,3,p1,0x10,10.00\no4,4,p1,1e2,10.00\no4,5,p1,+3,10.00\n",
        ),
        quarantine=(
            (ITEMS_03_03, 2, r"^quantity: cannot parse '2\.5' as INTEGER$"),
            (ITEMS_03_03, 3, r"^quantity: cannot parse '0x10' as INTEGER$"),
            (ITEMS_03_03, 4, r"^quantity: cannot parse '1e2' as INTEGER$"),
        ),
        expect=(("SELECT quantity FROM raw.order_items WHERE line_number = 5", [(3,)]),),
    ),
    "inexact_rating": Case(
        "reviews",
        append(REVIEWS, "rv2,o3,p1,c1,4.6,ok,2025-03-03 19:00:00\n"),
        quarantine=((REVIEWS, 2, r"^rating: cannot parse '4\.6' as INTEGER$"),),
    ),
    "inexact_money": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-03-02 09:06:00,card,12.345,failed\n"
            "pay6,o3,2025-03-02 09:06:00,card,0.005,failed\n"
            "pay7,o3,2025-03-02 09:06:00,card,12.30,failed\n"
            "pay8,o3,2025-03-02 09:06:00,card,1e2,failed\n",
        ),
        quarantine=(
            (PAYMENTS_03_02, 3, r"^amount: cannot parse '12\.345' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 4, r"^amount: cannot parse '0\.005' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 6, r"^amount: cannot parse '1e2' as DECIMAL\(18,2\)$"),
        ),
        expect=(
            ("SELECT amount FROM raw.payments WHERE payment_id = 'pay7'", [(Decimal("12.30"),)]),
        ),
    ),
    "ambiguous_zone_and_impossible_offset": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-01-20 10:00:00 CST,card,1.00,failed\n"
            "pay6,o3,2025-03-02T09:05:00+25:00,card,1.00,failed\n"
            "pay7,o3,2025-03-02T23:05:00+14:00,card,1.00,failed\n",
        ),
        quarantine=(
            (
                PAYMENTS_03_02,
                3,
                r"^attempt_ts: cannot parse '2025-01-20 10:00:00 CST' as TIMESTAMP$",
            ),
            (PAYMENTS_03_02, 4, r"^attempt_ts: cannot parse '.*\+25:00' as TIMESTAMP$"),
        ),
        expect=(
            (
                "SELECT attempt_ts FROM raw.payments WHERE payment_id = 'pay7'",
                [(datetime(2025, 3, 2, 9, 5),)],
            ),
        ),
    ),
    "unparseable_timestamp": Case(
        "payments",
        append(PAYMENTS_03_02, "pay5,o3,yesterday 9am,card,1.00,failed\n"),
        quarantine=(
            (PAYMENTS_03_02, 3, r"^attempt_ts: cannot parse 'yesterday 9am' as TIMESTAMP$"),
        ),
    ),
    "timestamps_with_and_without_offset": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-03-02T17:05:00+08:00,card,1.00,failed\n"
            "pay6,o3,2025-03-02 09:05:00,card,1.00,failed\n"
            "pay7,o3,2025-03-02T09:05:00Z,card,1.00,failed\n"
            "pay8,o3,2025-03-02T04:05:00-05:00,card,1.00,failed\n",
        ),
        expect=(
            (
                "SELECT DISTINCT attempt_ts FROM raw.payments WHERE payment_id >= 'pay5'",
                [(datetime(2025, 3, 2, 9, 5),)],
            ),
        ),
    ),
    "missing_key": Case(
        "orders",
        append(ORDERS_03_02, "," + ORDER_ROW.split(",", 1)[1]),
        quarantine=((ORDERS_03_02, 3, "^order_id: missing$"),),
    ),
    "duplicate_keys_newer_and_older_updated_ts": Case(
        "orders",
        write(
            "orders/dt=2025-03-04/orders.csv",
            fixture_text(ORDERS_03_02).split("\n")[0] + "\n"
            # o1: an older version delivered late (must not win); o4: a newer version (wins)
            "o1,c1,2025-03-01 10:00:00,web,paid,,0.00,10.00,2025-03-04,,,,2025-03-01 10:01:00\n"
            "o4,c2,2025-03-03 12:00:00,web,paid,,0.00,0.00,2025-03-06,,,,2025-03-04 08:00:00\n",
        ),
        expect=(
            (
                "SELECT order_id, status, _source_file FROM raw.orders WHERE order_id IN "
                "('o1', 'o4') ORDER BY 1",
                [
                    ("o1", "delivered", "orders/dt=2025-03-03/orders.csv"),
                    ("o4", "paid", "orders/dt=2025-03-04/orders.csv"),
                ],
            ),
        ),
    ),
    "orphan_order_item": Case(
        "order_items",
        append(ITEMS_03_03, "o99,1,p1,1,10.00\n"),
        quarantine=((ITEMS_03_03, 2, r"^order_id: 'o99' not found in raw\.orders\.order_id$"),),
    ),
    "negative_amount": Case(
        "payments",
        append(PAYMENTS_03_02, "pay5,o3,2025-03-02 09:06:00,card,-80.00,success\n"),
        quarantine=((PAYMENTS_03_02, 3, r"^amount: -80\.00 below minimum 0$"),),
    ),
    "rating_6": Case(
        "reviews",
        append(REVIEWS, "rv2,o3,p1,c1,6,great,2025-03-03 19:00:00\n"),
        quarantine=((REVIEWS, 2, r"^rating: 6 above maximum 5$"),),
    ),
    "nps_11_and_csat_0": Case(
        "surveys",
        append(
            "surveys/dt=2025-03-03/surveys.csv",
            "s2,c1,nps,11,2025-03-03 19:00:00,\ns3,c1,csat,0,2025-03-03 19:00:00,\n"
            "s4,c1,csat,5,2025-03-03 19:00:00,\ns5,c1,poll,3,2025-03-03 19:00:00,\n",
        ),
        quarantine=(
            (
                "surveys/dt=2025-03-03/surveys.csv",
                2,
                "^score: 11 above maximum 10 for survey_type nps$",
            ),
            (
                "surveys/dt=2025-03-03/surveys.csv",
                3,
                "^score: 0 below minimum 1 for survey_type csat$",
            ),
            ("surveys/dt=2025-03-03/surveys.csv", 5, r"^survey_type: 'poll' not in \(nps, csat\)$"),
        ),
    ),
    "status_outside_domain": Case(
        "orders",
        append(ORDERS_03_02, ORDER_ROW.replace(",paid,", ",shipping,")),
        quarantine=(
            (ORDERS_03_02, 3, r"^status: 'shipping' not in \(created, paid, .*returned\)$"),
        ),
    ),
    "future_date": Case(
        "events",
        append(
            EVENTS_03_02,
            "e99,2999-03-02 09:00:00,v1,c1,page_view,home,,,,desktop,,,,\n"
            "e98,1970-01-01 00:00:00,v1,c1,page_view,home,,,,desktop,,,,\n",
        ),
        quarantine=(
            (EVENTS_03_02, 3, r"^event_ts: 2999-03-02 09:00:00 is in the future \(after .*\)$"),
            (EVENTS_03_02, 4, r"^event_ts: 1970-01-01 00:00:00 is before 2000-01-01$"),
        ),
    ),
    "redelivered_partition": Case(
        "orders",
        # the shop re-exports 2025-03-02: o3 was cancelled; o2's row is no longer in it
        write(
            ORDERS_03_02,
            fixture_text(ORDERS_03_02).split("\n")[0] + "\n"
            "o3,c1,2025-03-02 09:00:00,web,cancelled,SAVE10,10.00,0.00,2025-03-05,,,"
            "2025-03-02 11:00:00,2025-03-02 11:00:00\n",
        ),
        expect=(
            (
                "SELECT order_id, status FROM raw.orders ORDER BY 1",
                [("o1", "delivered"), ("o2", "created"), ("o3", "cancelled"), ("o4", "created")],
            ),
        ),
    ),
    "late_partition": Case(
        "orders",
        # dt=2025-02-28 arrives after 03-01..03-03: its new order loads, its older o1 does not win
        write(
            "orders/dt=2025-02-28/late.csv",
            fixture_text(ORDERS_03_02).split("\n")[0] + "\n"
            "o0,c1,2025-02-28 10:00:00,web,paid,,0.00,0.00,2025-03-03,,,,2025-02-28 10:00:00\n"
            "o1,c1,2025-03-01 10:00:00,web,created,,0.00,10.00,2025-03-04,,,,2025-02-28 10:00:00\n",
        ),
        expect=(
            (
                "SELECT order_id, status, _partition_dt FROM raw.orders WHERE order_id IN "
                "('o0', 'o1') ORDER BY 1",
                [
                    ("o0", "paid", datetime(2025, 2, 28).date()),
                    ("o1", "delivered", datetime(2025, 3, 3).date()),
                ],
            ),
        ),
    ),
    "embedded_newlines_and_quotes": Case(
        "reviews",
        append(
            REVIEWS, 'rv2,o3,p1,c1,5,"line one\nline ""two"", with comma",2025-03-03 19:00:00\n'
        ),
        expect=(
            (
                TEXT,
                [("rv1", 'Nice, but "slow" shipping'), ("rv2", 'line one\nline "two", with comma')],
            ),
        ),
    ),
    "chinese_text": Case(
        "reviews",
        append(REVIEWS, "rv2,o3,p1,c1,5,质量很好，物流快！😀,2025-03-03 19:00:00\n"),
        expect=((TEXT, [("rv1", 'Nice, but "slow" shipping'), ("rv2", "质量很好，物流快！😀")]),),
    ),
    "sql_injection_value": Case(
        "reviews",
        append(
            REVIEWS,
            'rv2,o3,p1,c1,5,"\'); DROP TABLE raw.orders; --",2025-03-03 19:00:00\n'
            "rv3,o3,p1,c1,x'); DROP TABLE raw.orders; --,ok,2025-03-03 19:00:00\n",
        ),
        quarantine=(
            (REVIEWS, 3, r"^rating: cannot parse 'x'\); DROP TABLE raw\.orders; --' as INTEGER$"),
        ),
        expect=(
            ("SELECT count(DISTINCT order_id) FROM raw.orders", [(4,)]),
            (
                "SELECT review_text FROM raw.reviews WHERE review_id = 'rv2'",
                [("'); DROP TABLE raw.orders; --",)],
            ),
        ),
    ),
    # ---- habits of other export tools
    "excel_bom_crlf_trailing_empty_column": Case(
        "orders",
        excel_csv("orders/dt=2025-03-04/orders.csv", [ORDERS_HEADER.strip(), ORDER_ROW.strip()]),
        expect=(
            (
                "SELECT order_id, status, updated_ts, _source_row FROM raw.orders "
                "WHERE _partition_dt = DATE '2025-03-04'",
                [("o5", "paid", datetime(2025, 3, 2, 12, 0), 1)],
            ),
        ),
    ),
    "excel_thousands_separator_and_us_dates": Case(
        "orders",
        excel_csv(
            "orders/dt=2025-03-04/orders.csv",
            [
                ORDERS_HEADER.strip(),
                ORDER_ROW.strip().replace(",0.00,0.00,", ',"1,234.50",0.00,'),
                ORDER_ROW.strip().replace("o5,", "o6,").replace("2025-03-05", "03/05/2025"),
                ORDER_ROW.strip()
                .replace("o5,", "o7,")
                .replace("2025-03-02 12:00:00", "3/2/2025 12:00 PM"),
                ORDER_ROW.strip().replace("o5,", "o8,"),
            ],
        ),
        quarantine=(
            (
                "orders/dt=2025-03-04/orders.csv",
                1,
                r"^discount_amount: cannot parse '1,234\.50' as DECIMAL\(18,2\)$",
            ),
            (
                "orders/dt=2025-03-04/orders.csv",
                2,
                r"^promised_delivery_date: cannot parse '03/05/2025' as DATE$",
            ),
            (
                "orders/dt=2025-03-04/orders.csv",
                3,
                r"^order_ts: cannot parse '3/2/2025 12:00 PM' as TIMESTAMP; "
                r"updated_ts: cannot parse '3/2/2025 12:00 PM' as TIMESTAMP",
            ),
        ),
        expect=(
            (
                "SELECT order_id FROM raw.orders WHERE _partition_dt = DATE '2025-03-04'",
                [("o8",)],
            ),
        ),
    ),
    "shopify_style_header_names": Case(
        "orders",
        edit(ORDERS_03_02, lambda b: b.replace(b"order_id,", b"Order ID,", 1)),
        reject=(
            ORDERS_03_02,
            1,
            r"^missing required column\(s\) order_id \(found instead: Order ID\)$",
        ),
    ),
    "currency_symbols_in_money": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-03-02 09:06:00,card,$50.00,failed\n"
            "pay6,o3,2025-03-02 09:06:00,card,¥80.00,failed\n"
            "pay7,o3,2025-03-02 09:06:00,card,50.00 CNY,failed\n"
            'pay8,o3,2025-03-02 09:06:00,"",50,failed\n',
        ),
        quarantine=(
            (PAYMENTS_03_02, 3, r"^amount: cannot parse '\$50\.00' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 4, r"^amount: cannot parse '¥80\.00' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 5, r"^amount: cannot parse '50\.00 CNY' as DECIMAL\(18,2\)$"),
        ),
        expect=(
            (
                "SELECT method, amount FROM raw.payments WHERE payment_id = 'pay8'",
                [(None, Decimal("50.00"))],
            ),
        ),
    ),
    "bigquery_json_strings_for_numbers_and_nested_nulls": Case(
        "payments",
        write(
            "payments/dt=2025-03-03/bq-000000000000.jsonl",
            '{"payment_id":"pay5","order_id":"o4","attempt_ts":"2025-03-03T12:01:00Z",'
            '"method":"card","amount":"50.00","status":"success","meta":{"gateway":null}}\n'
            '{"payment_id":"pay6","order_id":"o4","attempt_ts":"2025-03-03 12:02:00 UTC",'
            '"method":null,"amount":"50","status":"failed","meta":null}\n'
            '{"payment_id":"pay7","order_id":"o4","attempt_ts":"2025-03-03T12:03:00.123456Z",'
            '"amount":12.5,"status":"failed","meta":{"retries":[null]}}\n',
        ),
        quarantine=(
            (
                "payments/dt=2025-03-03/bq-000000000000.jsonl",
                2,
                r"^attempt_ts: cannot parse '2025-03-03 12:02:00 UTC' as TIMESTAMP$",
            ),
        ),
        expect=(
            (
                "SELECT payment_id, attempt_ts, method, amount FROM raw.payments "
                "WHERE _partition_dt = DATE '2025-03-03' ORDER BY 1",
                [
                    ("pay5", datetime(2025, 3, 3, 12, 1), "card", Decimal("50.00")),
                    ("pay7", datetime(2025, 3, 3, 12, 3, 0, 123456), None, Decimal("12.50")),
                ],
            ),
        ),
    ),
    "pandas_parquet_index_ns_tz_and_float_money": Case(
        "payments",
        pandas_parquet(
            "payments/dt=2025-03-03/payments.parquet",
            {
                "payment_id": ["pay5", "pay6"],
                "order_id": ["o4", "o4"],
                "attempt_ts": pd.to_datetime(
                    ["2025-03-03 20:01:00.123456789", "2025-03-03 20:02:00.000000000"]
                ).tz_localize("Asia/Shanghai"),
                "method": ["card", "card"],
                "amount": [50.0, 12.345],
                "status": ["success", "failed"],
            },
            index=[10, 11],
        ),
        quarantine=(
            (
                "payments/dt=2025-03-03/payments.parquet",
                2,
                r"^amount: cannot parse '12\.345' as DECIMAL\(18,2\)$",
            ),
        ),
        expect=(
            (
                "SELECT payment_id, attempt_ts, amount FROM raw.payments "
                "WHERE _partition_dt = DATE '2025-03-03'",
                # +08:00 to UTC; nanoseconds to the nearest microsecond of TIMESTAMP
                [("pay5", datetime(2025, 3, 3, 12, 1, 0, 123457), Decimal("50.00"))],
            ),
        ),
    ),
    "pandas_parquet_floats_for_integers": Case(
        "order_items",
        pandas_parquet(
            "order_items/dt=2025-03-04/order_items.parquet",
            {
                "order_id": ["o4", "o4"],
                "line_number": [2.0, 3.0],
                "product_id": ["p1", "p1"],
                "quantity": [2.0, 2.5],
                "unit_price": [10.0, 10.0],
            },
            index=[0, 7],
        ),
        quarantine=(
            (
                "order_items/dt=2025-03-04/order_items.parquet",
                2,
                r"^quantity: cannot parse '2\.5' as INTEGER$",
            ),
        ),
        expect=(
            (
                "SELECT line_number, quantity, unit_price FROM raw.order_items "
                "WHERE _partition_dt = DATE '2025-03-04'",
                [(2, 2, Decimal("10.00"))],
            ),
        ),
    ),
    "tab_separated_file_named_csv": Case(
        "payments",
        write(
            "payments/dt=2025-03-03/payments.csv",
            PAYMENTS_HEADER.replace(",", "\t")
            + "pay9\to4\t2025-03-03 12:01:00\tcard\t50.00\tsuccess\n",
        ),
        # one header name holding tabs: no delimiter is guessed
        reject=(
            "payments/dt=2025-03-03/payments.csv",
            1,
            r"^missing required column\(s\) payment_id, order_id, attempt_ts, method, amount, "
            r"status$",
        ),
    ),
    "quoted_numbers_and_timestamps": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            'pay5,o3,2025-03-02 09:06:00,card,"12.50",failed\n'
            '"pay6","o3","2025-03-02 09:07:00","card","0.5","success"\n',
        ),
        expect=(
            (
                PAYMENTS_03_02_ADDED,
                [
                    ("pay5", datetime(2025, 3, 2, 9, 6), "card", Decimal("12.50"), "failed"),
                    ("pay6", datetime(2025, 3, 2, 9, 7), "card", Decimal("0.50"), "success"),
                ],
            ),
        ),
    ),
    "whitespace_around_values": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-03-02 09:06:00,card, 12.50 ,failed\n"
            "pay6,o3,2025-03-02 09:06:00,card,12.50, failed\n"
            "pay7,o3, 2025-03-02 09:06:00,card,12.50,failed\n"
            "pay8, o3,2025-03-02 09:06:00,card,12.50,failed\n"
            "pay9 ,o3,2025-03-02 09:06:00,card ,12.50,failed\n",
        ),
        # padding is not trimmed: a typed or referenced value with it is quarantined …
        quarantine=(
            (PAYMENTS_03_02, 3, r"^amount: cannot parse ' 12\.50 ' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 4, r"^status: ' failed' not in \(success, failed\)$"),
            (PAYMENTS_03_02, 5, r"^attempt_ts: cannot parse ' 2025-03-02 09:06:00' as TIMESTAMP$"),
            (PAYMENTS_03_02, 6, r"^order_id: ' o3' not found in raw\.orders\.order_id$"),
        ),
        # … and free text keeps it, as delivered
        expect=(
            (
                PAYMENTS_03_02_ADDED,
                [("pay9 ", datetime(2025, 3, 2, 9, 6), "card ", Decimal("12.50"), "failed")],
            ),
        ),
    ),
    "null_like_literals_in_optional_and_required_columns": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-03-02 09:06:00,NULL,1.00,failed\n"
            "pay6,o3,2025-03-02 09:06:00,card,NULL,failed\n"
            "pay7,o3,N/A,card,1.00,failed\n"
            "pay8,N/A,2025-03-02 09:06:00,card,1.00,failed\n"
            "pay9,o3,2025-03-02 09:06:00,card,-,failed\n"
            "pay10,o3,2025-03-02 09:06:00,,1.00,failed\n"
            "pay11,o3,2025-03-02 09:06:00,card,1.00,\n"
            "pay12,o3,2025-03-02 09:06:00,card,1.00,NULL\n",
        ),
        quarantine=(
            (PAYMENTS_03_02, 4, r"^amount: cannot parse 'NULL' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 5, r"^attempt_ts: cannot parse 'N/A' as TIMESTAMP$"),
            (PAYMENTS_03_02, 6, r"^order_id: 'N/A' not found in raw\.orders\.order_id$"),
            (PAYMENTS_03_02, 7, r"^amount: cannot parse '-' as DECIMAL\(18,2\)$"),
            (PAYMENTS_03_02, 9, r"^status: missing$"),
            (PAYMENTS_03_02, 10, r"^status: 'NULL' not in \(success, failed\)$"),
        ),
        # only an empty field is NULL; the word NULL in free text is text
        expect=(
            (
                PAYMENTS_03_02_ADDED,
                [
                    ("pay5", datetime(2025, 3, 2, 9, 6), "NULL", Decimal("1.00"), "failed"),
                    ("pay10", datetime(2025, 3, 2, 9, 6), None, Decimal("1.00"), "failed"),
                ],
            ),
        ),
    ),
    "status_in_another_case": Case(
        "orders",
        append(
            ORDERS_03_02,
            ORDER_ROW.replace(",paid,", ",Paid,")
            + ORDER_ROW.replace("o5,", "o6,").replace(",paid,", ",PAID,")
            + ORDER_ROW.replace("o5,", "o7,").replace(",web,", ",WEB,"),
        ),
        quarantine=(
            (ORDERS_03_02, 3, r"^status: 'Paid' not in \(created, paid, .*returned\)$"),
            (ORDERS_03_02, 4, r"^status: 'PAID' not in \(created, paid, .*returned\)$"),
        ),
        # platform has no domain: its case is kept as delivered
        expect=(
            (
                "SELECT order_id, platform, status FROM raw.orders WHERE order_id >= 'o5'",
                [("o7", "WEB", "paid")],
            ),
        ),
    ),
    "iso_timestamps_with_t_fractions_and_z": Case(
        "payments",
        append(
            PAYMENTS_03_02,
            "pay5,o3,2025-03-02T09:06:00.5Z,card,1.00,failed\n"
            "pay6,o3,2025-03-02T09:06:00.123456789Z,card,1.00,failed\n"
            "pay7,o3,2025-03-02T09:06Z,card,1.00,failed\n"
            "pay8,o3,2025-03-02T17:06:00.250+08:00,card,1.00,failed\n"
            "pay9,o3,20250302T090600Z,card,1.00,failed\n",
        ),
        quarantine=(
            (PAYMENTS_03_02, 7, r"^attempt_ts: cannot parse '20250302T090600Z' as TIMESTAMP$"),
        ),
        expect=(
            (
                "SELECT payment_id, attempt_ts FROM raw.payments "
                "WHERE payment_id >= 'pay5' ORDER BY 1",
                [
                    ("pay5", datetime(2025, 3, 2, 9, 6, 0, 500000)),
                    # nanoseconds in text are cut to microseconds (parquet's are rounded)
                    ("pay6", datetime(2025, 3, 2, 9, 6, 0, 123456)),
                    ("pay7", datetime(2025, 3, 2, 9, 6)),
                    ("pay8", datetime(2025, 3, 2, 9, 6, 0, 250000)),
                ],
            ),
        ),
    ),
    "excel_serial_dates_and_dates_that_are_not_iso": Case(
        "orders",
        write(
            NEW_ORDERS,
            ORDERS_HEADER
            + ORDER_ROW.replace("2025-03-05", "45721")
            + ORDER_ROW.replace("o5,", "o6,").replace("2025-03-02 12:00:00,web", "45718.5,web")
            + ORDER_ROW.replace("o5,", "o7,").replace("2025-03-05", "2025-03-05 23:30:00")
            + ORDER_ROW.replace("o5,", "o8,").replace("2025-03-05", "2025-3-5")
            + ORDER_ROW.replace("o5,", "o9,").replace("2025-03-05", "2025-03-05T00:00:00Z")
            + ORDER_ROW.replace("o5,", "o10,"),
        ),
        # a DATE cast dropped the time of day and read 2025-3-5: loaded a guessed date
        quarantine=(
            (NEW_ORDERS, 1, r"^promised_delivery_date: cannot parse '45721' as DATE$"),
            (NEW_ORDERS, 2, r"^order_ts: cannot parse '45718\.5' as TIMESTAMP$"),
            (
                NEW_ORDERS,
                3,
                r"^promised_delivery_date: cannot parse '2025-03-05 23:30:00' as DATE$",
            ),
            (NEW_ORDERS, 4, r"^promised_delivery_date: cannot parse '2025-3-5' as DATE$"),
            (
                NEW_ORDERS,
                5,
                r"^promised_delivery_date: cannot parse '2025-03-05T00:00:00Z' as DATE$",
            ),
        ),
        expect=(
            (
                "SELECT order_id, promised_delivery_date FROM raw.orders "
                "WHERE _partition_dt = DATE '2025-03-04'",
                [("o10", datetime(2025, 3, 5).date())],
            ),
        ),
    ),
    "excel_scientific_and_leading_zero_ids": Case(
        "orders",
        write(
            NEW_ORDERS,
            ORDERS_HEADER
            + ORDER_ROW.replace("o5,c1,", "1.23457E+11,c1,")
            + ORDER_ROW.replace("o5,c1,", "00123,000042,"),
        ),
        # ids are text: kept exactly as delivered, never read as numbers (the digits Excel
        # lost cannot be recovered; the children naming the real id are orphans)
        expect=(
            (
                "SELECT order_id, customer_id, _source_row FROM raw.orders "
                "WHERE _partition_dt = DATE '2025-03-04' ORDER BY _source_row",
                [("1.23457E+11", "c1", 1), ("00123", "000042", 2)],
            ),
        ),
    ),
    "windows_1252_json_lines": Case(
        "payments",
        write(
            JSONL,
            (
                payment_json(5) + "\n" + payment_json(6, method='"carte bancaire \xe9"') + "\n"
            ).encode("cp1252"),
        ),
        reject=(JSONL, 2, r"^not UTF-8 text: invalid continuation byte$"),
    ),
    "json_array_in_a_jsonl_file": Case(
        "payments",
        write(JSONL, "[" + payment_json(5) + "," + payment_json(6) + "]\n"),
        reject=(JSONL, 1, r"^not a JSON object$"),
    ),
    "pretty_printed_json_array_in_a_jsonl_file": Case(
        "payments",
        write(JSONL, "[\n  " + payment_json(5) + ",\n  " + payment_json(6) + "\n]\n"),
        reject=(JSONL, 1, r"^malformed JSON: Expecting value at column 1$"),
    ),
    "jsonl_crlf_and_blank_trailing_lines": Case(
        "payments",
        write(JSONL, payment_json(5) + "\r\n" + payment_json(6) + "\r\n\r\n\r\n"),
        expect=(
            (
                PAYMENTS_03_03,
                [
                    (
                        "pay5",
                        "o4",
                        datetime(2025, 3, 3, 12, 1),
                        "card",
                        Decimal("50.00"),
                        "failed",
                        1,
                    ),
                    (
                        "pay6",
                        "o4",
                        datetime(2025, 3, 3, 12, 1),
                        "card",
                        Decimal("50.00"),
                        "failed",
                        2,
                    ),
                ],
            ),
        ),
    ),
    "jsonl_with_bom": Case(
        "payments",
        write(JSONL, "\ufeff" + payment_json(5) + "\n" + payment_json(6, amount='"12.5"') + "\n"),
        expect=(
            (
                PAYMENTS_03_03,
                [
                    (
                        "pay5",
                        "o4",
                        datetime(2025, 3, 3, 12, 1),
                        "card",
                        Decimal("50.00"),
                        "failed",
                        1,
                    ),
                    (
                        "pay6",
                        "o4",
                        datetime(2025, 3, 3, 12, 1),
                        "card",
                        Decimal("12.50"),
                        "failed",
                        2,
                    ),
                ],
            ),
        ),
    ),
    "parquet_int96_timestamps": Case(
        "payments",
        parquet_file(
            PARQUET,
            {
                "payment_id": pa.array(["pay9"]),
                "order_id": pa.array(["o4"]),
                "attempt_ts": pa.array(
                    [datetime(2025, 3, 3, 12, 1, 0, 123456)], pa.timestamp("us")
                ),
                "method": pa.array(["card"]),
                "amount": pa.array([Decimal("50.00")], pa.decimal128(18, 2)),
                "status": pa.array(["success"]),
            },
            use_deprecated_int96_timestamps=True,  # Spark / Hive / Impala
        ),
        expect=(
            (
                PAYMENTS_03_03,
                [
                    (
                        "pay9",
                        "o4",
                        datetime(2025, 3, 3, 12, 1, 0, 123456),
                        "card",
                        Decimal("50.00"),
                        "success",
                        1,
                    )
                ],
            ),
        ),
    ),
    "parquet_dictionary_large_string_and_narrow_decimal": Case(
        "payments",
        parquet_file(
            PARQUET,
            {
                "payment_id": pa.array(["pay9", "pay10"], pa.large_string()),
                "order_id": pa.array(["o4", "o4"]).dictionary_encode(),
                "attempt_ts": pa.array(
                    [datetime(2025, 3, 3, 12, 1)] * 2, pa.timestamp("ms", "UTC")
                ),
                "method": pa.array(["card", None]).dictionary_encode(),
                "amount": pa.array([Decimal("50.0"), Decimal("1.5")], pa.decimal128(10, 1)),
                "status": pa.array(["success", "failed"], pa.large_string()).dictionary_encode(),
            },
        ),
        expect=(
            (
                PAYMENTS_03_03,
                [
                    (
                        "pay9",
                        "o4",
                        datetime(2025, 3, 3, 12, 1),
                        "card",
                        Decimal("50.00"),
                        "success",
                        1,
                    ),
                    (
                        "pay10",
                        "o4",
                        datetime(2025, 3, 3, 12, 1),
                        None,
                        Decimal("1.50"),
                        "failed",
                        2,
                    ),
                ],
            ),
        ),
    ),
    "header_names_padded_with_spaces_and_tabs": Case(
        "payments",
        edit(
            PAYMENTS_03_02,
            lambda b: b.replace(b"payment_id,order_id,", b" payment_id , order_id\t,", 1),
        ),
        expect=(
            (
                "SELECT payment_id, order_id, amount FROM raw.payments "
                "WHERE _partition_dt = DATE '2025-03-02' ORDER BY 1",
                [("pay3", "o3", Decimal("80.00")), ("pay4", "o3", Decimal("80.00"))],
            ),
        ),
    ),
    "same_row_twice_in_one_file": Case(
        "payments",
        append(PAYMENTS_03_02, "pay4,o3,2025-03-02 09:05:00,alipay,80.00,success\n"),
        superseded=1,
        expect=(
            (
                "SELECT payment_id, _source_row FROM raw.payments "
                "WHERE _partition_dt = DATE '2025-03-02' ORDER BY 1",
                [("pay3", 1), ("pay4", 3)],  # the last copy is kept
            ),
        ),
    ),
    "gzip_with_several_members": Case(
        "orders",
        # `cat a.gz b.gz > batch.csv.gz`, or a tool writing one member per chunk
        write(
            "orders/dt=2025-03-04/batch.csv.gz",
            gzip.compress((ORDERS_HEADER + ORDER_ROW).encode())
            + gzip.compress(ORDER_ROW.replace("o5,", "o6,").encode()),
        ),
        expect=(
            (
                "SELECT order_id, _source_row FROM raw.orders "
                "WHERE _partition_dt = DATE '2025-03-04' ORDER BY 1",
                [("o5", 1), ("o6", 2)],
            ),
        ),
    ),
    "header_repeated_mid_file": Case(
        "payments",
        # two exports concatenated: the second header is a data row that parses as nothing
        append(PAYMENTS_03_02, PAYMENTS_HEADER + "pay5,o3,2025-03-02 09:06:00,card,1.00,failed\n"),
        quarantine=(
            (
                PAYMENTS_03_02,
                3,
                r"^attempt_ts: cannot parse 'attempt_ts' as TIMESTAMP; "
                r"amount: cannot parse 'amount' as DECIMAL\(18,2\); "
                r"status: 'status' not in \(success, failed\); "
                r"order_id: 'order_id' not found in raw\.orders\.order_id$",
            ),
        ),
        expect=(
            (
                PAYMENTS_03_02_ADDED,
                [("pay5", datetime(2025, 3, 2, 9, 6), "card", Decimal("1.00"), "failed")],
            ),
        ),
    ),
}


def test_matrix_has_the_cases_the_issue_names():
    assert len(CASES) >= 20


def test_the_fixture_itself_loads_without_quarantine(conn, tmp_path):
    root = copy_landing(tmp_path)
    for feed in FEEDS:
        stats = load(conn, root, feed)
        assert stats.rows_quarantined == 0, (feed, stats.quarantine_reasons)
        assert stats.rows_read == rows_in(root, feed) == stats.rows_loaded + stats.rows_superseded


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input(case: Case, conn, tmp_path):
    root = copy_landing(tmp_path)
    load(conn, root, case.feed)
    before = snapshot(conn, case.feed)
    case.mutate(root)

    if case.reject is not None:
        rel, line, reason = case.reject
        with pytest.raises(LandingFileError) as info:
            load(conn, root, case.feed)
        error = info.value
        assert error.file == str(root / rel)
        assert error.line == line
        assert re.search(reason, error.reason), error.reason
        assert str(root / rel) in str(error)
        assert snapshot(conn, case.feed) == before  # nothing of the file reached raw
        return

    stats = load(conn, root, case.feed)
    delivered = rows_in(root, case.feed)
    loaded, quarantined = (
        conn.execute(f"SELECT count(*) FROM {schema}.{case.feed}").fetchone()[0]
        for schema in ("raw", "raw_quarantine")
    )
    assert (stats.rows_loaded, stats.rows_quarantined) == (loaded, quarantined)
    assert stats.rows_superseded == case.superseded
    assert delivered == stats.rows_read == loaded + quarantined + stats.rows_superseded
    # Expectations are about the current data: the newest version of each key, as staging sees it.
    conn.execute("CREATE SCHEMA IF NOT EXISTS latest")
    feed = FEEDS[case.feed]
    order = [f"{feed.updated_column} DESC NULLS LAST"] if feed.updated_column else []
    order += ["_partition_dt DESC", "_source_file DESC", "_source_row DESC"]
    newest = f"row_number() OVER (PARTITION BY {', '.join(feed.key)} ORDER BY {', '.join(order)})"
    conn.execute(
        f"CREATE OR REPLACE VIEW latest.{feed.name} AS "
        f"SELECT * FROM raw.{feed.name} QUALIFY {newest} = 1"
    )
    got = conn.execute(
        f"SELECT _source_file, _source_row, _reason, _load_id FROM raw_quarantine.{case.feed} "
        "ORDER BY 1, 2"
    ).fetchall()
    assert [(f, r) for f, r, _, _ in got] == [(f, r) for f, r, _ in case.quarantine]
    for (_, _, reason, load_id), (_, _, pattern) in zip(got, case.quarantine, strict=True):
        assert re.search(pattern, reason), reason
        assert load_id == "t"
    for sql, expected in case.expect:
        sql = sql.replace(f"raw.{case.feed}", f"latest.{case.feed}")
        assert conn.execute(sql).fetchall() == expected, sql


REJECTED = {name: case for name, case in CASES.items() if case.reject is not None}


@pytest.mark.parametrize("case", REJECTED.values(), ids=REJECTED.keys())
def test_validate_landing_reports_the_file_the_ingest_rejects(case: Case, tmp_path):
    from orchestration import deployment
    from orchestration.validate_landing import validate

    root = copy_landing(tmp_path)
    case.mutate(root)
    assert case.reject is not None
    rel, line, reason = case.reject
    report = validate(root, deployment.Deployment(source="test"))
    errors = [p for p in report.problems if p.severity == "error"]
    assert [(p.feed, p.file, p.line) for p in errors] == [(case.feed, rel, line)]
    assert re.search(reason, errors[0].message), errors[0].message


# ------------------------------------------------------------------ where the landing is


def test_dt_comes_only_from_the_partition_folder_under_the_feed(conn, tmp_path):
    # An export folder named by date holds the landing: its dt= is not the rows' partition,
    # and its glob characters are plain characters too.
    root = tmp_path / "exports" / "dt=2025-01-01 [final]*" / "landing"
    shutil.copytree(FIXTURE, root)
    stats = load(conn, root, "payments")
    assert stats.rows_read == rows_in(root, "payments") == stats.rows_loaded
    got = conn.execute(
        "SELECT DISTINCT _partition_dt, _source_file FROM raw.payments ORDER BY 1"
    ).fetchall()
    assert [(str(dt), f) for dt, f in got] == [
        ("2025-03-01", "payments/dt=2025-03-01/payments.csv"),
        ("2025-03-02", PAYMENTS_03_02),
    ]
    assert stats.first_partition == "2025-03-01"


SECRET = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def link_out_of_the_landing(root: Path, outside: Path, linked: str) -> Path:
    """A link in the orders feed (to a file, a partition or the feed folder) leading to
    `outside`, which holds a secret-looking line in a file named like an export."""
    secret_part = outside / "orders" / "dt=2025-03-04"
    secret_part.mkdir(parents=True)
    (secret_part / "orders.csv").write_text(SECRET + "\n")
    if linked == "feed":
        shutil.copytree(root / "orders", outside / "orders", dirs_exist_ok=True)
        shutil.rmtree(root / "orders")
        link, target = root / "orders", outside / "orders"
    elif linked == "partition":
        link, target = root / "orders" / "dt=2025-03-04", secret_part
    else:
        link, target = root / "orders" / "dt=2025-03-04" / "orders.csv", secret_part / "orders.csv"
        link.parent.mkdir()
    link.symlink_to(target)
    return link


@pytest.mark.parametrize("linked", ["file", "partition", "feed"])
def test_link_out_of_the_landing_is_refused_naming_the_link_only(conn, tmp_path, linked):
    from orchestration import deployment
    from orchestration.validate_landing import validate

    root = copy_landing(tmp_path)
    link = link_out_of_the_landing(root, tmp_path / "outside", linked)
    with pytest.raises(LandingFileError) as info:
        load(conn, root, "orders")
    assert info.value.file == str(link)
    assert "outside the landing folder" in info.value.reason
    assert SECRET not in str(info.value)
    assert not conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'raw'"
    ).fetchall()  # refused at discovery, before any table was made

    report = validate(root, deployment.Deployment(source="test")).to_json()
    assert SECRET not in str(report)
    (problem,) = [p for p in report["problems"] if p["feed"] == "orders"]
    assert (problem["severity"], problem["kind"]) == ("error", "layout")
    assert problem["file"] == link.relative_to(root).as_posix()
    assert "outside the landing folder" in problem["message"]


# ------------------------------------------------------------------ through the ingest asset


def materialize(root: Path, db: Path, feed: str) -> dg.ExecuteInProcessResult:
    resources = {
        "landing": LandingResource(root=str(root)),
        "warehouse": WarehouseResource(path=str(db)),
    }
    assets = [build_ingest_asset(FEEDS[name]) for name in dict.fromkeys(("orders", feed))]
    dates = landing_range(root)
    assert dates is not None, f"no partitions under {root}"
    return dg.materialize(assets, resources=resources, raise_on_error=False, tags=dates.tags())


def quarantine_check(result: dg.ExecuteInProcessResult, feed: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == raw_asset_key(feed) and e.check_name == QUARANTINE_CHECK
    ]
    return evaluation


def test_asset_quarantine_check_passes_warns_and_errors(tmp_path, monkeypatch):
    root = copy_landing(tmp_path)
    db = tmp_path / "w.duckdb"
    monkeypatch.delenv("QUARANTINE_MAX_SHARE", raising=False)
    clean = quarantine_check(materialize(root, db, "payments"), "payments")
    assert clean.passed
    assert clean.metadata["quarantine_share"].value == 0

    append(PAYMENTS_03_02, "pay5,o3,2025-03-02 09:06:00,card,-1.00,success\n")(root)
    monkeypatch.setenv("QUARANTINE_MAX_SHARE", "0.5")  # 1 of 5 rows: within the share → WARN
    result = materialize(root, db, "payments")
    warn = quarantine_check(result, "payments")
    assert result.success
    assert (warn.passed, warn.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert warn.metadata["rows_quarantined"].value == 1
    assert warn.metadata["quarantine_share"].value == pytest.approx(0.2)
    assert warn.metadata["top_reasons"].value == {"amount: -1.00 below minimum 0": 1}

    monkeypatch.setenv("QUARANTINE_MAX_SHARE_PAYMENTS", "0.1")  # per-feed override → ERROR
    error = quarantine_check(materialize(root, db, "payments"), "payments")
    assert (error.passed, error.severity) == (False, dg.AssetCheckSeverity.ERROR)
    materialization = next(
        e.event_specific_data.materialization
        for e in materialize(root, db, "payments").get_asset_materialization_events()
        if e.asset_key == raw_asset_key("payments")
    )
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (
        meta["rows_read"]
        == meta["rows_loaded"] + meta["rows_quarantined"] + meta["rows_superseded"]
    )


def test_asset_fails_naming_the_rejected_file(tmp_path):
    root = copy_landing(tmp_path)
    db = tmp_path / "w.duckdb"
    assert materialize(root, db, "reviews").success
    append(REVIEWS, b"rv2,o3,p1,c1,5,\xff,2025-03-03 19:00:00\n")(root)
    result = materialize(root, db, "reviews")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"feed reviews: rejected {root / REVIEWS}, line 3: ")


# ------------------------------------------------------------------ through the whole pipeline


def all_marts(sample_run) -> dict[str, list[tuple]]:
    names = sample_run.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
    )
    return {n: sample_run.query(f'SELECT * FROM marts."{n}" ORDER BY ALL') for (n,) in names}


@pytest.mark.slow
def test_rejected_file_fails_the_run_and_leaves_every_mart_unchanged(sample_run, tmp_path):
    from orchestration.cli import run_pipeline

    marts_before = all_marts(sample_run)
    assert len(marts_before) >= 20
    raw_before = sample_run.query("SELECT * FROM raw.orders ORDER BY ALL")
    landing = tmp_path / "landing"
    shutil.copytree(sample_run.landing, landing)
    victim = sorted((landing / "orders").glob("dt=*/*"))[5]
    data = victim.read_bytes()
    victim.write_bytes(data + b"o_broken,c1\n")  # a ragged row at the end of the export
    bad_line = data.count(b"\n") + 1
    sample_run.monkeypatch.setenv("LANDING_DIR", str(landing))
    try:
        report = run_pipeline(instance=sample_run.instance)
    finally:
        sample_run.monkeypatch.setenv("LANDING_DIR", str(sample_run.landing))
    assert not report.ok
    assert list(report.failed_steps) == ["raw__orders"]
    message = report.failed_steps["raw__orders"]
    assert message.startswith(f"feed orders: rejected {victim}, line {bad_line}: "), message
    assert "Expected Number of Columns" in message
    assert "dbt_models" not in report.step_seconds  # dbt never ran
    assert sample_run.query("SELECT * FROM raw.orders ORDER BY ALL") == raw_before
    assert all_marts(sample_run) == marts_before
