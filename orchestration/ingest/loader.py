"""Load one feed's landing files into `raw.<feed>` with DuckDB's own readers.

One read per file format (not per file, not per row), typed with TRY_CAST so that a value that
does not parse sends its row to `raw_quarantine.<feed>` with a reason instead of failing the load
or silently becoming NULL. Rows delivered more than once keep the newest version by `updated_ts`
(or, for feeds without one, the latest delivery). The raw and quarantine tables are replaced in
one transaction: a rejected file or any error leaves both exactly as they were.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.contract import Feed
from orchestration.ingest.landing import LandingFile, LandingFileError

RAW_SCHEMA = "raw"
QUARANTINE_SCHEMA = "raw_quarantine"

QUARANTINE_COLUMNS: dict[str, str] = {
    "_source_file": "VARCHAR",
    "_source_row": "BIGINT",
    "_partition_dt": "DATE",
    "_reason": "VARCHAR",
    "_record": "JSON",  # the row as delivered, every value as text
    "_load_id": "VARCHAR",
    "_loaded_at": "TIMESTAMP",
}


@dataclass
class LoadStats:
    """What one load of a feed did; becomes Dagster asset metadata."""

    feed: str
    files: int = 0
    files_by_format: dict[str, int] = field(default_factory=dict)
    partitions: int = 0
    first_partition: str | None = None
    last_partition: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_superseded: int = 0  # older deliveries of a key, replaced by a newer one
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _path_list(files: list[LandingFile]) -> str:
    return "[" + ", ".join(_sql_str(str(f.path)) for f in files) + "]"


# ---------------------------------------------------------------- header checks (fail fast)


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise LandingFileError(path, f"not UTF-8 text: {exc.reason}", line=1) from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise LandingFileError(path, f"cannot read file: {exc}") from None
    if not first.strip():
        raise LandingFileError(path, "empty file: no header row", line=1)
    return next(csv.reader(io.StringIO(first)))


def _check_columns(path: Path, found: list[str], feed: Feed) -> None:
    missing = [c for c in feed.columns if c not in found]
    if missing:
        raise LandingFileError(
            path,
            f"missing required column(s) {', '.join(missing)} (found: {', '.join(found)})",
            line=1,
        )


def check_file_headers(
    conn: duckdb.DuckDBPyConnection, feed: Feed, files: list[LandingFile]
) -> dict[Path, tuple[str, ...]]:
    """Reject a file that is empty or lacks a contract column, before anything is read.

    Returns each file's columns (JSON lines: the contract's, as they are read by name).
    """
    headers: dict[Path, tuple[str, ...]] = {}
    for f in files:
        if f.path.stat().st_size == 0:
            raise LandingFileError(f.path, "empty file (0 bytes)")
        headers[f.path] = tuple(feed.columns)
    for f in (f for f in files if f.fmt == "csv"):
        found = [c.strip() for c in _csv_header(f.path)]
        _check_columns(f.path, found, feed)
        headers[f.path] = tuple(found)
    parquet = [f for f in files if f.fmt == "parquet"]
    if parquet:
        by_file: dict[str, list[str]] = {str(f.path): [] for f in parquet}
        try:
            rows = conn.execute(
                f"SELECT file_name, name FROM parquet_schema({_path_list(parquet)})"
            ).fetchall()
        except duckdb.Error:
            _raise_for_bad_file(conn, feed, parquet)
            raise
        for file_name, name in rows:
            by_file.setdefault(file_name, []).append(name)
        for f in parquet:
            _check_columns(f.path, by_file[str(f.path)], feed)
            headers[f.path] = tuple(by_file[str(f.path)])
    # JSON lines omit null keys, so a key absent from a file is read as NULL, not an error.
    return headers


def group_by_layout(
    files: list[LandingFile], headers: dict[Path, tuple[str, ...]]
) -> list[list[LandingFile]]:
    """Files of one format and one column layout, read together in one reader call.

    One call per layout, not `union_by_name` over all files: DuckDB's union_by_name keeps a
    ~30 MiB buffer per compressed file, which runs out of memory at a few hundred partitions.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[LandingFile]] = {}
    for f in files:
        groups.setdefault((f.fmt, headers[f.path]), []).append(f)
    return list(groups.values())


# ---------------------------------------------------------------- reading and typing


def _reader(fmt: str, files: list[LandingFile], feed: Feed) -> tuple[str, str]:
    """(FROM clause, 1-based row-within-file expression) for one format group."""
    paths = _path_list(files)
    if fmt == "csv":
        src = (
            f"read_csv({paths}, header=true, all_varchar=true, delim=',', quote='\"', "
            "escape='\"', filename=true, auto_detect=true) WITH ORDINALITY"
        )
    elif fmt == "json":
        cols = ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in feed.columns)
        src = (
            f"read_json({paths}, format='newline_delimited', columns={{{cols}}}, filename=true)"
            " WITH ORDINALITY"
        )
    else:
        return (
            f"read_parquet({paths}, filename=true, file_row_number=true)",
            "file_row_number + 1",
        )
    # ordinality numbers rows across all files in scan order; rebase it per file.
    return src, "ordinality - min(ordinality) OVER (PARTITION BY filename) + 1"


def _typed(column: str, sql_type: str, fmt: str) -> str:
    value = f"src.{_ident(column)}"
    if fmt != "parquet":
        value = f"nullif({value}, '')"
    if sql_type == "VARCHAR":
        return f"nullif(CAST({value} AS VARCHAR), '')" if fmt == "parquet" else value
    if sql_type == "TIMESTAMP":
        # TIMESTAMPTZ parses an offset; a naive value is read in the session zone, UTC.
        return f"CAST(TRY_CAST({value} AS TIMESTAMPTZ) AS TIMESTAMP)"
    return f"TRY_CAST({value} AS {sql_type})"


def _format_select(fmt: str, files: list[LandingFile], feed: Feed, landing_root: Path) -> str:
    src, row_expr = _reader(fmt, files, feed)
    root_len = len(str(landing_root).rstrip("/")) + 2
    raw_text = ", ".join(f"{_sql_str(c)}: CAST(src.{_ident(c)} AS VARCHAR)" for c in feed.columns)
    cols = ",\n        ".join(
        f"{_typed(c, t, fmt)} AS {_ident(c)}" for c, t in feed.columns.items()
    )
    return f"""
    SELECT
        {cols},
        substr(src.filename, {root_len}) AS _source_file,
        CAST({row_expr} AS BIGINT) AS _source_row,
        CAST(regexp_extract(src.filename, 'dt=(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) AS DATE)
            AS _partition_dt,
        {{{raw_text}}} AS _raw
    FROM {src} AS src"""


def _reason_expr(feed: Feed) -> str:
    """Why a row is quarantined, or NULL: unparseable values, missing key or required value."""
    parts: list[str] = []
    for col, sql_type in feed.columns.items():
        raw = f"_raw[{_sql_str(col)}]"
        if sql_type != "VARCHAR":
            parts.append(
                f"CASE WHEN nullif({raw}, '') IS NOT NULL AND {_ident(col)} IS NULL "
                f"THEN '{col}: cannot parse ''' || {raw} || ''' as {sql_type}' END"
            )
    parts.extend(
        f"CASE WHEN nullif(_raw[{_sql_str(col)}], '') IS NULL THEN '{col}: missing' END"
        for col in (*feed.key, *feed.required)
    )
    return "nullif(concat_ws('; ', " + ", ".join(parts) + "), '')"


_LINE_IN_ERROR = re.compile(r"[Ll]ine:?\s*(\d+)")


def _raise_for_bad_file(conn: duckdb.DuckDBPyConnection, feed: Feed, files: list[LandingFile]):
    """Find which file of a failed multi-file read is broken, and raise naming it."""
    for f in files:
        src, _ = _reader(f.fmt, [f], feed)
        try:
            conn.execute(f"SELECT count(*) FROM {src}").fetchall()
        except duckdb.Error as exc:
            message = str(exc).strip()
            match = _LINE_IN_ERROR.search(message)
            first_line = message.splitlines()[0]
            raise LandingFileError(
                f.path, first_line, line=int(match.group(1)) if match else None
            ) from None


def load_feed(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    files: list[LandingFile],
    landing_root: Path,
    load_id: str,
) -> LoadStats:
    """Replace raw.<feed> and raw_quarantine.<feed> with what the landing files hold."""
    started = time.perf_counter()
    stats = LoadStats(feed=feed.name, files=len(files))
    stats.files_by_format = dict(Counter(f.fmt for f in files))
    dts = sorted({f.partition_dt for f in files})
    stats.partitions = len(dts)
    if dts:
        stats.first_partition, stats.last_partition = dts[0].isoformat(), dts[-1].isoformat()

    headers = check_file_headers(conn, feed, files)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    staged = f"_staged_{feed.name}"
    groups = group_by_layout(files, headers)
    select_parts = [_format_select(fs[0].fmt, fs, feed, landing_root) for fs in groups]
    contract_cols = ", ".join(_ident(c) for c in feed.columns)
    if not select_parts:  # a feed with no files yet: an empty table of the contract's schema
        nulls = ", ".join(f"CAST(NULL AS {t}) AS {_ident(c)}" for c, t in feed.columns.items())
        raw_nulls = ", ".join(f"{_sql_str(c)}: CAST(NULL AS VARCHAR)" for c in feed.columns)
        select_parts = [
            f"SELECT {nulls}, CAST(NULL AS VARCHAR) AS _source_file, "
            "CAST(NULL AS BIGINT) AS _source_row, CAST(NULL AS DATE) AS _partition_dt, "
            f"{{{raw_nulls}}} AS _raw LIMIT 0"
        ]
    body = " UNION ALL BY NAME ".join(select_parts)
    try:
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE {staged} AS
            SELECT *, {_reason_expr(feed)} AS _reason FROM ({body})"""
        )
    except duckdb.Error:
        for fs in groups:
            _raise_for_bad_file(conn, feed, fs)
        raise

    order = [f"{_ident(feed.updated_column)} DESC NULLS LAST"] if feed.updated_column else []
    order += ["_partition_dt DESC", "_source_file DESC", "_source_row DESC"]
    key = ", ".join(_ident(k) for k in feed.key)
    lineage = f"_source_file, _source_row, _partition_dt, {_sql_str(load_id)} AS _load_id, " + (
        f"TIMESTAMP {_sql_str(loaded_at.isoformat(sep=' '))} AS _loaded_at"
    )
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {QUARANTINE_SCHEMA}")
        conn.execute(
            f"""CREATE OR REPLACE TABLE {RAW_SCHEMA}.{feed.name} AS
            SELECT {contract_cols}, {lineage}
            FROM {staged}
            WHERE _reason IS NULL
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {", ".join(order)}) = 1
            ORDER BY _partition_dt, _source_file, _source_row"""
        )
        _write_quarantine(conn, staged, feed, load_id, loaded_at)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise

    stats.rows_read = conn.execute(f"SELECT count(*) FROM {staged}").fetchone()[0]
    stats.rows_loaded = conn.execute(f"SELECT count(*) FROM {RAW_SCHEMA}.{feed.name}").fetchone()[0]
    reasons = conn.execute(
        f"SELECT _reason, count(*) FROM {staged} WHERE _reason IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    ).fetchall()
    stats.rows_quarantined = conn.execute(
        f"SELECT count(*) FROM {QUARANTINE_SCHEMA}.{feed.name}"
    ).fetchone()[0]
    stats.quarantine_reasons = {r: n for r, n in reasons}
    stats.rows_superseded = stats.rows_read - stats.rows_loaded - stats.rows_quarantined
    conn.execute(f"DROP TABLE {staged}")
    stats.seconds = round(time.perf_counter() - started, 3)
    return stats


def _write_quarantine(
    conn: duckdb.DuckDBPyConnection, staged: str, feed: Feed, load_id: str, loaded_at: datetime
) -> None:
    conn.execute(
        f"""CREATE OR REPLACE TABLE {QUARANTINE_SCHEMA}.{feed.name} AS
        SELECT _source_file, _source_row, _partition_dt, _reason,
            CAST(to_json(_raw) AS JSON) AS _record,
            {_sql_str(load_id)} AS _load_id,
            TIMESTAMP {_sql_str(loaded_at.isoformat(sep=" "))} AS _loaded_at
        FROM {staged}
        WHERE _reason IS NOT NULL
        ORDER BY _partition_dt, _source_file, _source_row"""
    )
