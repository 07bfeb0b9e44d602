"""Landing files: one file per feed and delivery partition, in the feed's export format.

Byte-for-byte reproducible: rows sorted by partition and key, gzip without name and mtime,
Parquet through pyarrow with fixed settings (no timestamps or paths in its metadata).

Text timestamps are naive UTC `YYYY-MM-DD HH:MM:SS`, except the orders export (local time with
`+08:00`) and the events JSON export (`...Z`), as the real exporting systems do.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration import contract
from orchestration.sample.core import LOCAL_OFFSET_S, Clock

ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("s"),
    "DATE": pa.date32(),
    contract.MONEY: pa.decimal128(18, 2),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
}
FORMATS = {
    "customers": "csv.gz",
    "products": "parquet",
    "orders": "csv",
    "order_items": "csv.gz",
    "payments": "parquet",
    "refunds": "csv",
    "events": "parquet",  # the first EVENTS_JSON_DAYS days: jsonl.gz
    "experiment_assignments": "jsonl",
    "marketing_spend": "csv",
    "campaigns": "csv",
    "reviews": "jsonl",
    "surveys": "csv",
    "tickets": "jsonl.gz",
}
EVENTS_JSON_DAYS = 14  # the tracking vendor exported JSON before switching to Parquet
GZIP_LEVEL = 6
PARQUET_COMPRESSION = "zstd"


@dataclass
class Tally:
    """Rows and files written per feed."""

    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)

    def add(self, feed: str, rows: int) -> None:
        self.rows[feed] = self.rows.get(feed, 0) + rows
        self.files[feed] = self.files.get(feed, 0) + 1


def to_table(feed: str, columns: dict) -> pa.Table:
    """The contract columns in contract order, checked against the contract types."""
    spec = contract.FEEDS[feed].columns
    arrays = []
    for name, sql_type in spec.items():  # a dozen columns
        arr = columns[name]
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        expected = ARROW_TYPES[sql_type]
        if arr.type != expected:
            raise TypeError(f"{feed}.{name}: built as {arr.type}, contract says {expected}")
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=list(spec))


def _ts_text(col: pa.Array, style: str) -> pa.Array:
    """Timestamps as ISO text: naive `YYYY-MM-DD HH:MM:SS`, `...T...Z` or local `...T...+08:00`.

    Arrow's cast to string gives the naive form ten times faster than strftime; the other two
    styles are edits of it.
    """
    if style == "local":
        col = pc.add(col.cast(pa.int64()), LOCAL_OFFSET_S).cast(pa.timestamp("s"))
    text = col.cast(pa.string())
    if style == "naive":
        return text
    text = pc.replace_substring(text, pattern=" ", replacement="T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z" if style == "zulu" else "+08:00", "")


def _timestamps_as_text(table: pa.Table, style: str) -> pa.Table:
    for i, f in enumerate(table.schema):  # per column
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, _ts_text(table.column(i).combine_chunks(), style))
    return table


def _json_escape(arr: pa.Array) -> pa.Array:
    if not pc.any(pc.match_substring_regex(arr, r'[\\"\n\r\t]')).as_py():
        return arr  # ids and codes: nothing to escape
    for raw, esc in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        arr = pc.replace_substring(arr, pattern=raw, replacement=esc)
    return arr


def _json_value(arr: pa.Array, ts_style: str) -> pa.Array:
    t = arr.type
    if pa.types.is_string(t):
        out = pc.binary_join_element_wise('"', _json_escape(arr), '"', "")
    elif pa.types.is_timestamp(t):
        out = pc.binary_join_element_wise('"', _ts_text(arr, ts_style), '"', "")
    elif pa.types.is_date(t):
        out = pc.binary_join_element_wise('"', arr.cast(pa.string()), '"', "")
    elif pa.types.is_boolean(t):
        out = pc.if_else(arr, "true", "false")
    else:  # integers and decimals are JSON numbers
        out = arr.cast(pa.string())
    return pc.fill_null(out, "null")


def json_lines(table: pa.Table, ts_style: str) -> bytes:
    """Newline-delimited JSON objects, built column-wise with Arrow string kernels."""
    parts: list = []
    for i, name in enumerate(table.column_names):  # per column
        parts.append(("{" if i == 0 else ",") + f'"{name}":')
        parts.append(_json_value(table.column(i).combine_chunks(), ts_style))
    parts.append("}\n")
    if table.num_rows == 0:
        return b""
    return _concat_strings(pc.binary_join_element_wise(*parts, ""))


def _concat_strings(arr: pa.Array) -> bytes:
    """All values of a string array back to back, straight from its data buffer."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)
    lo, hi = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    return arr.buffers()[2].slice(lo, hi - lo).to_pybytes()


def encode(feed: str, table: pa.Table, fmt: str) -> bytes:
    """One partition's file content."""
    if fmt == "parquet":
        cols = [
            c.cast(pa.timestamp("us")) if pa.types.is_timestamp(c.type) else c
            for c in table.columns
        ]
        sink = io.BytesIO()
        pq.write_table(
            pa.Table.from_arrays(cols, names=table.column_names),
            sink,
            compression=PARQUET_COMPRESSION,
        )
        return sink.getvalue()
    if fmt.startswith("csv"):
        if feed == "orders":
            table = _timestamps_as_text(table, "local")
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(quoting_style="needed"))
        data = sink.getvalue()
    else:
        data = json_lines(table, "zulu" if feed == "events" else "naive")
    if fmt.endswith(".gz"):
        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    return data


def write_partition(
    out: Path, feed: str, clock: Clock, day: int, table: pa.Table, fmt: str, tally: Tally
) -> None:
    folder = out / feed / f"dt={clock.iso(day)}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"part-0.{fmt}").write_bytes(encode(feed, table, fmt))
    tally.add(feed, table.num_rows)


def write_feed(out: Path, feed: str, clock: Clock, columns: dict, tally: Tally) -> None:
    """Sort a feed's rows by partition, key and recency, and write one file per partition."""
    spec = contract.FEEDS[feed]
    table = to_table(feed, columns)
    dt = np.asarray(columns["_dt"], dtype=np.int64)
    if len(dt) and (dt.min() < 0 or dt.max() >= clock.days):
        raise ValueError(f"{feed}: partition outside the range")
    keys = [*spec.key, *([spec.updated_column] if spec.updated_column else [])]
    table = table.append_column("_dt", pa.array(dt))
    table = table.sort_by([("_dt", "ascending"), *[(k, "ascending") for k in keys]])
    sorted_dt = table.column("_dt").to_numpy()
    table = table.drop_columns(["_dt"])
    bounds = np.searchsorted(sorted_dt, np.arange(clock.days + 1), side="left")
    for day in np.flatnonzero(np.diff(bounds)):  # one file per non-empty partition
        lo, hi = bounds[day], bounds[day + 1]
        write_partition(out, feed, clock, int(day), table.slice(lo, hi - lo), FORMATS[feed], tally)
