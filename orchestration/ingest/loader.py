"""Load one feed's landing partitions into `raw.<feed>` with DuckDB's own readers.

`inspect_files` applies the file and row rules (a bad file is rejected whole, a bad row gets its
quarantine reason); `validate_landing` uses it too. `load_feed` keeps the newest version per key
and `dt`, moves rows a re-delivery changed or dropped to `raw_replaced`, quarantines bad rows and
holds rows awaiting their parent in `raw_held`, in one transaction."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration import contract
from orchestration.contract import Feed, References
from orchestration.ingest.landing import (
    LandingFile,
    LandingFileError,
    MissingColumnsError,
    reader_path,
)

RAW_SCHEMA, QUARANTINE_SCHEMA = "raw", "raw_quarantine"
REPLACED_SCHEMA, HELD_SCHEMA = "raw_replaced", "raw_held"
LOAD_LOG = f"{RAW_SCHEMA}._load_log"
REPLACED_COLUMNS = {"_replaced_at": "TIMESTAMP", "_replaced_by": "VARCHAR"}
LOAD_LOG_COLUMNS = {
    **{"load_id": "VARCHAR", "feed": "VARCHAR", "partition_dt": "DATE", "files": "INTEGER"},
    **{f"rows_{n}": "BIGINT" for n in ("read", "loaded", "quarantined", "inserted", "replaced")},
    "loaded_at": "TIMESTAMP",
}
PLACE = ("_source_file", "_source_row", "_partition_dt")  # where a row is in the landing
# Quarantined and held rows: their place, the reason and the row as delivered (values as text).
SET_ASIDE_COLUMNS = {
    **dict(zip(PLACE, ("VARCHAR", "BIGINT", "DATE"), strict=True)),
    **{"_reason": "VARCHAR", "_record": "JSON", "_load_id": "VARCHAR", "_loaded_at": "TIMESTAMP"},
}
JSON_KEY_SAMPLE_LINES = 1000  # JSON lines: keys are looked for in this many first lines
GZIP_MAGIC, LONE_CR, MAX_HEADER_BYTES = b"\x1f\x8b", re.compile(rb"\r(?!\n)"), 1 << 20
NUMERIC = "TINYINT SMALLINT INTEGER BIGINT HUGEINT FLOAT DOUBLE DECIMAL".split()


@dataclass
class LoadStats:
    """What one load of a feed did; becomes Dagster asset metadata."""

    feed: str
    files: int = 0
    files_by_format: dict[str, int] = field(default_factory=dict)
    partitions: int = 0
    first_partition: str = ""
    last_partition: str = ""
    rows_read: int = 0  # = loaded + quarantined + superseded + held
    rows_loaded: int = 0  # = inserted + unchanged
    rows_quarantined: int = 0
    rows_superseded: int = 0  # older versions of a key within one partition's delivery
    rows_inserted: int = 0  # new or changed rows written to raw
    rows_replaced: int = 0  # rows of these partitions that changed or vanished → raw_replaced
    rows_unchanged: int = 0
    rows_in_raw: int = 0  # raw.<feed> after the load, every partition
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    rows_held: int = 0  # held by this load for a parent not loaded yet
    rows_released: int = 0  # held rows of any load released into raw by this one
    rows_held_expired: int = 0  # held rows quarantined by this load at the end of their grace
    rows_waiting: int = 0  # in raw_held after this load
    waiting_reasons: dict[str, int] = field(default_factory=dict)
    not_read: list[str] = field(default_factory=list)  # columns (JSON keys) outside the contract
    seconds: float = 0.0


@dataclass
class Inspection:
    table: str | None  # the staged rows (None when no file could be read)
    rejected: list[LandingFileError] = field(default_factory=list)
    columns: dict[LandingFile, list[str]] = field(default_factory=dict)  # of each staged file


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open(path: Path) -> io.IOBase:
    return (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb")


def _csv_header(path: Path) -> list[str]:
    """The header of a CSV file (UTF-8, BOM allowed), read without reading the rest."""
    try:
        with _open(path) as fh:
            first = fh.readline(MAX_HEADER_BYTES)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise LandingFileError(path, f"cannot read file: {exc}") from None
    problem = None
    if not path.name.lower().endswith(".gz") and first.startswith(GZIP_MAGIC):
        problem = "gzip-compressed data in a file not named .gz (expected .csv.gz)"
    elif LONE_CR.search(first):
        problem = "lines end in CR only (classic Mac): expected LF or CRLF line breaks"
    elif len(first) >= MAX_HEADER_BYTES:
        problem = "header row longer than 1 MiB: not a CSV header"
    try:
        text = "" if problem else first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text: {exc.reason}"
    if not problem and not text.strip():
        problem = "empty file: no header row"
    if problem:
        raise LandingFileError(path, problem, line=1)
    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(text)))]
    except csv.Error as exc:
        raise LandingFileError(path, f"header row is not CSV: {exc}", line=1) from None


def _json_keys(path: Path) -> list[str]:
    """The keys of the first JSON_KEY_SAMPLE_LINES objects of a JSON lines file, in order."""
    keys: dict[str, None] = {}
    with _open(path) as fh:
        for _, line in zip(range(JSON_KEY_SAMPLE_LINES), fh, strict=False):
            value = json.loads(line) if line.strip() else {}
            keys.update(dict.fromkeys(value) if isinstance(value, dict) else {})
    return list(keys)


def unread(feed: Feed, fmt: str, columns: list[str]) -> tuple[list[str], list[str]]:
    """(columns or JSON keys outside the contract, not read; for JSON lines the contract keys
    absent from the first lines, read as NULL, the optional ones not counted)."""
    extra = [c for c in columns if c and c not in feed.columns]
    absent = [c for c in feed.columns if c not in columns and c not in feed.optional]
    return extra, absent if fmt == "json" else []


def _check_columns(path: Path, found: list[str], feed: Feed) -> None:
    """Reject a header lacking a required contract column or naming one twice. Only offending
    names are quoted (a duplicate, a near miss such as `Status `): no other content reaches logs."""
    missing = [c for c in feed.columns if c not in found and c not in feed.optional]
    if missing:
        loose = {re.sub(r"[\s_-]+", "_", c.lower()) for c in missing}
        near = [c for c in found if re.sub(r"[\s_-]+", "_", c.strip().lower()) in loose]
        raise MissingColumnsError(path, missing, near)
    duplicated = sorted({c for c in found if c in feed.columns and found.count(c) > 1})
    if duplicated:
        raise LandingFileError(path, f"duplicate column(s) {', '.join(duplicated)}", line=1)


def _parquet_type_fits(sql_type: str, duckdb_type: str) -> bool:
    base = duckdb_type.split("(")[0].removeprefix("U")
    if sql_type == "VARCHAR" or base == "VARCHAR":
        return True  # text is checked value by value
    if sql_type in ("TIMESTAMP", "DATE"):
        return base.startswith("TIMESTAMP") or base == "DATE"
    return base == "BOOLEAN" if sql_type == "BOOLEAN" else base in NUMERIC


def _layout(
    conn: duckdb.DuckDBPyConnection, feed: Feed, f: LandingFile
) -> tuple[list[str], tuple[str, ...]]:
    """(the columns a file delivers, its layout as read), or LandingFileError for a file that is
    empty, lacks a contract column or (parquet) stores one in a type that cannot hold it. CSV
    reads other columns as `_extra_<position>`: no header name reaches SQL."""
    if f.path.stat().st_size == 0:
        raise LandingFileError(f.path, "empty file (0 bytes)")
    if f.fmt == "csv":
        found = _csv_header(f.path)
        _check_columns(f.path, found, feed)
        layout = tuple(c if c in feed.columns else f"_extra_{i}" for i, c in enumerate(found, 1))
        return found, layout
    if f.fmt == "parquet":
        query = "SELECT name, coalesce(duckdb_type, '') FROM parquet_schema(?)"
        try:  # [0]: the schema root
            schema = conn.execute(query, [reader_path(f.path)]).fetchall()[1:]
        except duckdb.Error as exc:
            raise LandingFileError(f.path, *_describe_error(str(exc))) from None
        _check_columns(f.path, [name for name, _ in schema], feed)
        types = dict(schema)
        for column, sql_type in feed.columns.items():
            if column in types and not _parquet_type_fits(sql_type, types[column]):
                reason = f"column {column}: parquet type {types[column]} cannot hold {sql_type}"
                raise LandingFileError(f.path, reason)
        return [name for name, _ in schema], tuple(f"{name} {t}" for name, t in schema)
    try:
        return _json_keys(f.path), tuple(feed.columns)
    except (OSError, EOFError, ValueError):  # the read names the problem
        return list(feed.columns), tuple(feed.columns)


# How every landing CSV is read: strictly, never sniffed (the bench's plain read uses it too).
CSV_OPTIONS = (
    "header=true, auto_detect=false, delim=',', quote='\"', escape='\"', "
    "strict_mode=true, null_padding=false"
)


def _reader(files: list[LandingFile], layout: tuple[str, ...]) -> tuple[str, str]:
    """(FROM clause, 1-based row-within-file expression) for files of one format and layout.
    CSV is parsed strictly, not sniffed: a ragged row or open quote is an error naming its line."""
    paths = "[" + ", ".join(sql_str(reader_path(f.path)) for f in files) + "]"
    cols = ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in layout)
    if files[0].fmt == "parquet":
        return f"read_parquet({paths}, filename=true, file_row_number=true)", "file_row_number + 1"
    if files[0].fmt == "csv":
        src = f"read_csv({paths}, {CSV_OPTIONS}, "
    else:
        src = f"read_json({paths}, format='newline_delimited', "
    # ordinality numbers rows across all files in scan order; rebase it per file.
    src += f"columns={{{cols}}}, filename=true) WITH ORDINALITY"
    return src, "ordinality - min(ordinality) OVER (PARTITION BY filename) + 1"


# A value is read as its type only when its text is exactly that type's: DuckDB's casts round
# (`2.5` → 3), read hex, exponents and zone names, and such a guess must quarantine the row.
_OFFSET = r"(Z|[+-]((0[0-9]|1[0-3])(:?[0-5][0-9])?|14(:?00)?))"
_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_ISO_TIMESTAMP = rf"{_ISO_DATE}([T ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\.[0-9]+)?)?{_OFFSET}?)?"
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def _exact_text_pattern(sql_type: str, fmt: str) -> str | None:
    """The regex a value's text must match in full to be read as `sql_type`, or None (any):
    no exponent, no more decimals than the scale, ISO 8601 times, `YYYY-MM-DD` dates in text."""
    if sql_type in ("INTEGER", "BIGINT"):
        return r"[+-]?[0-9]+" + (r"(\.0*)?" if fmt == "parquet" else "")
    if match := _DECIMAL.fullmatch(sql_type):
        scale = int(match.group(2))
        return rf"[+-]?([0-9]+(\.[0-9]{{0,{scale}}}0*)?|\.[0-9]{{1,{scale}}}0*)"
    if sql_type == "TIMESTAMP":
        return _ISO_TIMESTAMP
    return _ISO_DATE if sql_type == "DATE" and fmt != "parquet" else None


def _typed(column: str, sql_type: str, fmt: str) -> str:
    value = f"src.{ident(column)}" if fmt == "parquet" else f"nullif(src.{ident(column)}, '')"
    if sql_type == "VARCHAR":
        return f"nullif(CAST({value} AS VARCHAR), '')" if fmt == "parquet" else value
    # TIMESTAMPTZ parses an offset; a naive value is read in the session zone, UTC.
    typed = f"TRY_CAST({value} AS {'TIMESTAMPTZ' if sql_type == 'TIMESTAMP' else sql_type})"
    typed = f"CAST({typed} AS TIMESTAMP)" if sql_type == "TIMESTAMP" else typed
    pattern = _exact_text_pattern(sql_type, fmt)
    if pattern is None:
        return typed
    exact = f"regexp_full_match(CAST({value} AS VARCHAR), {sql_str(pattern)})"
    return f"CASE WHEN {exact} THEN {typed} END"


# `<feed>/dt=YYYY-MM-DD/` at the start of the path relative to the root (not a `dt=` above it).
_PARTITION_OF_FILE = sql_str(r"^[^/]+/dt=(\d{4}-\d{2}-\d{2})/")


def _select(
    files: list[LandingFile], layout: tuple[str, ...], feed: Feed, root: Path, found: list[str]
) -> str:
    """The typed rows of files of one format and layout (delivering the columns `found`), with
    lineage and `_raw` (as text). An optional column the files lack is NULL."""
    src, row_expr = _reader(files, layout)
    start, fmt = len(str(root).rstrip("/")) + 2, files[0].fmt
    read = {c: fmt == "json" or c in found for c in feed.columns}  # JSON: absent keys are NULL
    raw_text = ", ".join(
        f"{sql_str(c)}: CAST({f'src.{ident(c)}' if read[c] else 'NULL'} AS VARCHAR)"
        for c in feed.columns
    )
    cols = ", ".join(
        f"{_typed(c, t, fmt) if read[c] else f'CAST(NULL AS {t})'} AS {ident(c)}"
        for c, t in feed.columns.items()
    )
    return f"""SELECT {cols}, substr(src.filename, {start}) AS _source_file,
        CAST({row_expr} AS BIGINT) AS _source_row,
        CAST(regexp_extract(substr(src.filename, {start}), {_PARTITION_OF_FILE}, 1) AS DATE)
            AS _partition_dt,
        {{{raw_text}}} AS _raw
    FROM {src} AS src"""


def _rule_sql(rule: contract.Rule, latest: datetime, schema: str, lookup: str) -> str:
    """`CASE WHEN <the typed row s breaks the rule> THEN <reason> END`; a References rule looks
    the key up in the table `lookup` (the reason names the parent in `schema`)."""
    name = rule.later if isinstance(rule, contract.NotBefore) else rule.column
    col = f"s.{ident(name)}"
    said = f"'{name}: ' || CAST({col} AS VARCHAR) || "
    quoted = f"'{name}: ''' || CAST({col} AS VARCHAR) || "
    if isinstance(rule, contract.InSet):
        listed = sql_str(f"' not in ({', '.join(rule.values)})")
        allowed = ", ".join(sql_str(v) for v in rule.values)
        return f"CASE WHEN {col} NOT IN ({allowed}) THEN {quoted}{listed} END"
    if isinstance(rule, contract.Between):
        when, suffix = "", ""
        if rule.when is not None:
            when = f" AND s.{ident(rule.when[0])} = {sql_str(rule.when[1])}"
            suffix = f" for {rule.when[0]} {rule.when[1]}"
        bounds = (("<", rule.min_value, "below minimum"), (">", rule.max_value, "above maximum"))
        cases = [
            f"WHEN {col} {op} {v:g}{when} THEN {said}' {word} {v:g}{suffix}'"
            for op, v, word in bounds
            if v is not None
        ]
        return "CASE " + " ".join(cases) + " END"
    if isinstance(rule, contract.NotBefore):
        earlier = f"s.{ident(rule.earlier)}"
        said += f"' before {rule.earlier} ' || CAST({earlier} AS VARCHAR)"
        return f"CASE WHEN {col} < {earlier} THEN {said} END"
    if isinstance(rule, contract.InPast):
        ts, last, oldest = f"CAST({col} AS TIMESTAMP)", latest.isoformat(" "), contract.OLDEST_VALID
        return (
            f"CASE WHEN {ts} > TIMESTAMP '{last}' THEN {said}' is in the future (after {last})' "
            f"WHEN {ts} < TIMESTAMP '{oldest}' THEN {said}' is before {oldest}' END"
        )
    key, where = ident(rule.parent_column), f"{schema}.{rule.parent}.{rule.parent_column}"
    return (
        f"CASE WHEN {col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {lookup} AS _p "
        f"WHERE _p.{key} = {col}) THEN {quoted}''' not found in {where}' END"
    )


def _any(reasons: list[str]) -> str:
    return "nullif(concat_ws('; ', " + ", ".join(reasons) + "), '')"


def _staging_sql(
    table: str, feed: Feed, body: str, latest: datetime, schema: str | None, hold: bool
) -> str:
    """CREATE of the typed rows with `_reason` (NULL: loads) and `_held` (waits for a parent).
    Every reason that applies: unparseable or missing values, the rules (References only with a
    `schema`, looked up among the parent keys this batch names). Only rows set aside keep `_raw`."""
    refs = list(dict.fromkeys(r for r in feed.rules if isinstance(r, References))) if schema else []
    lookups = {rule: f"_parent_keys_{i}" for i, rule in enumerate(refs)}
    other = [
        f"CASE WHEN nullif(s._raw[{sql_str(c)}], '') IS NOT NULL AND s.{ident(c)} IS NULL "
        f"THEN '{c}: cannot parse ''' || s._raw[{sql_str(c)}] || ''' as {t}' END"
        for c, t in feed.columns.items()
        if t != "VARCHAR"
    ] + [
        f"CASE WHEN nullif(s._raw[{sql_str(c)}], '') IS NULL THEN '{c}: missing' END"
        for c in (*feed.key, *feed.required)
    ]
    other += [_rule_sql(r, latest, "", "") for r in feed.rules if not isinstance(r, References)]
    referential = [_rule_sql(r, latest, str(schema), lookups[r]) for r in refs]
    held = (
        f"({_any(other)} IS NULL AND {_any(referential)} IS NOT NULL)" if hold and refs else "false"
    )
    select = f"SELECT s.*, {_any(other + referential)} AS _reason, {held} AS _held FROM"
    kept = f"{table} AS SELECT * REPLACE (CASE WHEN _reason IS NOT NULL THEN _raw END AS _raw)"
    if not refs:
        return f"CREATE OR REPLACE TEMP TABLE {kept} FROM ({select} ({body}) AS s)"
    ctes = [f"_typed AS MATERIALIZED ({body})"] + [
        f"""{name} AS MATERIALIZED (SELECT DISTINCT _p.{ident(r.parent_column)}
            FROM {schema}.{ident(r.parent)} AS _p
            WHERE _p.{ident(r.parent_column)} IN (SELECT {ident(r.column)} FROM _typed))"""
        for r, name in lookups.items()
    ]
    return f"CREATE OR REPLACE TEMP TABLE {kept} FROM (WITH {', '.join(ctes)} {select} _typed AS s)"


def _parents(feed: Feed, schema: str, alias: str, grace_days: int) -> tuple[str, str, str]:
    """For the held row `alias`: (every parent is in `schema`, it is past its grace, the reason).
    Past its grace: its parents' newest `dt` is more than `grace_days` after its own."""
    refs = [r for r in feed.rules if isinstance(r, References)]
    exists = [
        f"EXISTS (SELECT 1 FROM {schema}.{ident(r.parent)} AS _p "
        f"WHERE _p.{ident(r.parent_column)} = {alias}.{ident(r.column)})"
        for r in refs
    ]
    newest = ", ".join(
        f"(SELECT max(_partition_dt) FROM {schema}.{ident(p)})" for p in feed.parents
    )
    expired = f"date_diff('day', {alias}._partition_dt, least({newest})) > {int(grace_days)}"
    why = [
        f"CASE WHEN NOT {found} THEN {sql_str(r.parent.removesuffix('s') + ' ')} || "
        f"{alias}.{ident(r.column)} || {sql_str(f' not delivered within {grace_days} days')} END"
        for r, found in zip(refs, exists, strict=True)
    ]
    return " AND ".join(exists), expired, f"concat_ws('; ', {', '.join(why)})"


_LINE_IN_ERROR = re.compile(r"[Ll]ine:?\s*(\d+)")
_NOISE = re.compile(r"^(Invalid Input Error|IO Error|Conversion Error):\s*")
_ECHOED_OBJECT = re.compile(r"Object \{.*\} ")  # DuckDB quotes the whole JSON line: content


def _describe_error(message: str) -> tuple[str, int | None]:
    """A one-line reason and the line (if DuckDB names one) from a DuckDB read error."""
    lines = [ln.strip() for ln in message.strip().splitlines()] or ["read error"]
    match = _LINE_IN_ERROR.search(lines[0])
    kept: list[str] = []
    for ln in lines[1:]:
        if ln.startswith(("Possible fixes", "Possible Solution", "LINE ", "file =", "Try ")):
            break
        if ln and not ln.startswith(("Original Line", "^")):
            kept.append(ln)
    first = _ECHOED_OBJECT.sub("Object ", _NOISE.sub("", lines[0]))
    return "; ".join(kept) if match and kept else first, int(match.group(1)) if match else None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object naming one key twice is refused: which value is meant is a guess."""
    keys = [k for k, _ in pairs]
    for key in (k for k in keys if keys.count(k) > 1):
        raise ValueError(f"duplicate key {json.dumps(key[:64])}")
    return dict(pairs)


def _json_problem(path: Path) -> tuple[int, str] | None:
    """Line and problem of the first line that is not a JSON object (DuckDB's is off by one)."""
    try:
        with _open(path) as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line.decode("utf-8"), object_pairs_hook=_unique_keys)
                except UnicodeDecodeError as exc:
                    return number, f"not UTF-8 text: {exc.reason}"
                except json.JSONDecodeError as exc:
                    return number, f"malformed JSON: {exc.msg} at column {exc.colno}"
                except ValueError as exc:  # from _unique_keys
                    return number, str(exc)
                if not isinstance(value, dict):
                    return number, "not a JSON object"
    except (OSError, EOFError):
        pass
    return None


def _probe(
    conn: duckdb.DuckDBPyConnection, f: LandingFile, layout: tuple[str, ...]
) -> LandingFileError | None:
    """Read one file in full, every column materialized as the load does: its error, if any."""
    src, _ = _reader([f], layout)
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _probe AS SELECT * FROM {src}")
    except duckdb.Error as exc:
        reason, line = _describe_error(str(exc))
        found = _json_problem(f.path) if f.fmt == "json" else None
        return LandingFileError(f.path, *(found[::-1] if found else (reason, line)))
    finally:
        conn.execute("DROP TABLE IF EXISTS _probe")
    return None


def inspect_files(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    files: list[LandingFile],
    landing_root: Path,
    table: str,
    *,
    references_schema: str | None = None,
    hold_orphans: bool = False,
    grace_days: int | None = None,
    keep_going: bool = False,
) -> Inspection:
    """Stage `files` into the temp table `table`: every row typed, with its lineage, `_raw` (as
    delivered), `_reason` (why it is quarantined) and `_held` (with `hold_orphans`: its only
    fault is an unknown parent in `references_schema`; past `grace_days` it is quarantined).
    A bad file raises LandingFileError; with `keep_going` it is listed in `rejected` instead."""
    inspection = Inspection(table=None)
    layouts: dict[LandingFile, tuple[str, ...]] = {}
    for f in files:
        try:
            inspection.columns[f], layouts[f] = _layout(conn, feed, f)
        except LandingFileError as exc:
            if not keep_going:
                raise
            inspection.rejected.append(exc)
    good = [f for f in files if f in layouts]
    latest = datetime.now(UTC).replace(tzinfo=None, microsecond=0) + contract.FUTURE_TOLERANCE
    while good and inspection.table is None:
        # One reader call per format and layout, not union_by_name over all files: that keeps a
        # large buffer per compressed file and runs out of memory at a few hundred partitions.
        groups: dict[tuple[str, tuple[str, ...]], list[LandingFile]] = {}
        for f in good:
            groups.setdefault((f.fmt, layouts[f]), []).append(f)
        body = " UNION ALL BY NAME ".join(
            _select(fs, layout, feed, landing_root, inspection.columns[fs[0]])
            for (_, layout), fs in groups.items()
        )
        try:
            conn.execute(_staging_sql(table, feed, body, latest, references_schema, hold_orphans))
            inspection.table = table
        except duckdb.Error:
            bad = [e for f in good if (e := _probe(conn, f, layouts[f])) is not None]
            if not bad:
                raise
            if not keep_going:
                raise bad[0] from None
            inspection.rejected += bad
            good = [f for f in good if str(f.path) not in {e.file for e in bad}]
    inspection.columns = {f: inspection.columns[f] for f in good}
    if inspection.table and hold_orphans and grace_days is not None and references_schema:
        _, expired, why = _parents(feed, references_schema, "h", grace_days)
        conn.execute(
            f"UPDATE {table} AS h SET _held = false, _reason = {why} WHERE _held AND {expired}"
        )
    return inspection


def not_read(feed: Feed, inspection: Inspection, root: Path) -> list[str]:
    """What the staged files deliver that the ingest does not read, one line per file."""
    lines = []
    for f, columns in inspection.columns.items():
        extra, absent = unread(feed, f.fmt, columns)
        if extra:
            what = "key" if f.fmt == "json" else "column"
            line = f"{f.path.relative_to(root)}: {what}(s) {', '.join(extra)} not in the contract"
            lines.append(line + (f" (absent, read as NULL: {', '.join(absent)})" if absent else ""))
    return lines


def ensure_feed_tables(conn: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    """Create the feed's raw, raw_replaced, quarantine (and held) tables and the load log; add
    a contract column a table made by an older contract lacks (the writes go by name)."""
    raw_cols = {**feed.columns, **contract.LINEAGE_COLUMNS}
    tables = {
        f"{RAW_SCHEMA}.{feed.name}": raw_cols,
        f"{REPLACED_SCHEMA}.{feed.name}": {**raw_cols, **REPLACED_COLUMNS},
        f"{QUARANTINE_SCHEMA}.{feed.name}": SET_ASIDE_COLUMNS,
        LOAD_LOG: LOAD_LOG_COLUMNS,
    }
    if feed.parents:
        tables[f"{HELD_SCHEMA}.{feed.name}"] = {**feed.columns, **SET_ASIDE_COLUMNS}
    for table, cols in tables.items():
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        body = ", ".join(f"{ident(c)} {sql_type}" for c, sql_type in cols.items())
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
        have = set(conn.table(table).columns)
        for column in (c for c in cols if c not in have):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {ident(column)} {cols[column]}")


def _in_partitions(dts: list[date], alias: str | None = None) -> str:
    column = f"{alias}._partition_dt" if alias else "_partition_dt"
    return f"{column} IN ({', '.join(sql_str(d.isoformat()) for d in dts)})" if dts else "false"


def _same_key(feed: Feed, left: str, right: str) -> str:
    """Rows `left` and `right` have the same key and partition."""
    keys = (*feed.key, "_partition_dt")
    return " AND ".join(f"{left}.{ident(k)} = {right}.{ident(k)}" for k in keys)


def _qualify_newest(feed: Feed, rank: str = "= 1") -> str:
    key = ", ".join(ident(k) for k in (*feed.key, "_partition_dt"))
    order = [f"{ident(feed.updated_column)} DESC NULLS LAST"] if feed.updated_column else []
    order += ["_source_file DESC", "_source_row DESC"]
    return f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {', '.join(order)}) {rank}"


class _Load:
    """One load of a feed's partitions: the SQL of each step, sharing the load's names."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, feed: Feed, load_id: str) -> None:
        self.conn, self.feed, self.id = conn, feed, sql_str(load_id)
        self.stamp = f"TIMESTAMP {sql_str(datetime.now(UTC).replace(tzinfo=None).isoformat(' '))}"
        # Writes go BY NAME: a table an older contract made has its added columns last.
        self.lineage = f"{self.id} AS _load_id, {self.stamp} AS _loaded_at"
        self.raw, self.held = f"{RAW_SCHEMA}.{feed.name}", f"{HELD_SCHEMA}.{feed.name}"
        self.quarantine = f"{QUARANTINE_SCHEMA}.{feed.name}"
        self.keys = ", ".join(ident(k) for k in (*feed.key, "_partition_dt"))
        self.compared = ", ".join(ident(c) for c in (*feed.columns, *PLACE))
        self.in_raw = "false"  # the partitions being loaded that raw already has (`compare`)

    def run(self, sql: str) -> int:
        row = self.conn.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def compare(self, staged: str, dts: list[date]) -> None:
        """Temp view `_new` (newest row per key and partition: staged rows not `_superseded`),
        tables `_same` (its keys whose row in raw is identical, place included) and `_gone` (keys
        of raw in these partitions whose row changed or is gone); `in_raw`: partitions raw had."""
        feed, repeated = self.feed, _same_key(self.feed, "d", "s")
        # Only the keys delivered more than once go through the window.
        self.conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _superseded AS
            WITH repeated AS (SELECT {self.keys} FROM {staged} WHERE _reason IS NULL
                GROUP BY {self.keys} HAVING count(*) > 1)
            SELECT _source_file, _source_row FROM (SELECT s.* FROM {staged} AS s
                WHERE s._reason IS NULL AND EXISTS (SELECT 1 FROM repeated AS d WHERE {repeated})
                {_qualify_newest(feed, "> 1")})"""
        )
        self.conn.execute(
            f"""CREATE OR REPLACE TEMP VIEW _new AS SELECT {self.compared} FROM {staged} AS s
            ANTI JOIN _superseded AS d USING (_source_file, _source_row) WHERE s._reason IS NULL"""
        )
        # Only partitions raw already has are compared row by row; new ones are inserted.
        query = f"SELECT DISTINCT _partition_dt FROM {self.raw} WHERE {_in_partitions(dts)}"
        self.in_raw = in_raw = _in_partitions(
            sorted(dt for (dt,) in self.conn.execute(query).fetchall()), "r"
        )
        identical = " AND ".join(
            f"n.{ident(c)} IS NOT DISTINCT FROM r.{ident(c)}"
            for c in (*feed.columns, *PLACE)
            if c not in (*feed.key, "_partition_dt")
        )
        n_keys, r_keys = (", ".join(f"{a}.{k}" for k in self.keys.split(", ")) for a in "nr")
        self.conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _same AS SELECT {n_keys} FROM _new AS n
            JOIN {self.raw} AS r ON {_same_key(feed, "n", "r")} AND {identical} WHERE {in_raw}"""
        )
        self.conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _gone AS SELECT {r_keys} FROM {self.raw} AS r
            WHERE {in_raw}
                AND NOT EXISTS (SELECT 1 FROM _same AS u WHERE {_same_key(feed, "u", "r")})"""
        )

    def set_aside(self, staged: str, into: str, where: str, typed: bool = False) -> int:
        """Insert staged rows into quarantine or raw_held: place, reason, the row as text."""
        cols = "".join(f"{ident(c)}, " for c in self.feed.columns) if typed else ""
        return self.run(
            f"""INSERT INTO {into} BY NAME SELECT {cols}_source_file, _source_row, _partition_dt,
                _reason, CAST(to_json(_raw) AS JSON) AS _record, {self.lineage}
            FROM {staged} AS s WHERE {where} ORDER BY _partition_dt, _source_file, _source_row"""
        )

    def write(self, staged: str, dts: list[date], stats: LoadStats, hold: bool) -> None:
        """Replace what the partitions `dts` loaded before with this load's rows."""
        feed, scope = self.feed, _in_partitions(dts)
        # `in_raw` is implied by the join with `_gone`; said again, it prunes the scan of raw.
        gone = (
            f"{self.in_raw} AND EXISTS (SELECT 1 FROM _gone AS g WHERE {_same_key(feed, 'r', 'g')})"
        )
        self.run(
            f"INSERT INTO {REPLACED_SCHEMA}.{feed.name} BY NAME SELECT r.*, "
            f"{self.stamp} AS _replaced_at, {self.id} AS _replaced_by FROM {self.raw} AS r "
            f"WHERE {gone}"
        )
        self.conn.execute(f"DELETE FROM {self.raw} AS r WHERE {gone}")
        stats.rows_inserted = self.run(
            f"""INSERT INTO {self.raw} BY NAME SELECT {self.compared}, {self.lineage}
            FROM _new AS n
            WHERE NOT EXISTS (SELECT 1 FROM _same AS u WHERE {_same_key(feed, "u", "n")})"""
        )
        self.conn.execute(f"DELETE FROM {self.quarantine} WHERE {scope}")
        self.set_aside(staged, self.quarantine, "_reason IS NOT NULL AND NOT _held")
        if hold:  # one row per key and partition; none for a key also delivered with its parent
            self.conn.execute(f"DELETE FROM {self.held} WHERE {scope}")
            known = f"EXISTS (SELECT 1 FROM _new AS n WHERE {_same_key(feed, 'n', 's')})"
            where = f"s._held AND NOT {known} {_qualify_newest(feed)}"
            stats.rows_held = self.set_aside(staged, self.held, where, typed=True)

        def per_dt(table: str) -> str:
            return f"(SELECT count(*) FROM {table} AS t WHERE t._partition_dt = s._partition_dt)"

        self.conn.execute(
            f"""INSERT INTO {LOAD_LOG} SELECT {self.id}, {sql_str(feed.name)}, s._partition_dt,
                count(DISTINCT s._source_file), count(*), {per_dt("_new")},
                count(*) FILTER (WHERE s._reason IS NOT NULL AND NOT s._held),
                {per_dt("_new")} - {per_dt("_same")}, {per_dt("_gone")}, {self.stamp}
            FROM {staged} AS s GROUP BY s._partition_dt ORDER BY s._partition_dt"""
        )

    def recheck_held(self, stats: LoadStats, schema: str, grace_days: int) -> None:
        """Release the held rows whose parent is now in `schema` into raw as rows of this load
        (so the next dbt batch picks them up); quarantine those past their grace."""
        found, expired, why = _parents(self.feed, schema, "h", grace_days)
        cols = ", ".join(f"h.{ident(c)}" for c in (*self.feed.columns, *PLACE))
        in_raw = f"EXISTS (SELECT 1 FROM {self.raw} AS r WHERE {_same_key(self.feed, 'r', 'h')})"
        stats.rows_released = self.run(
            f"""INSERT INTO {self.raw} BY NAME SELECT {cols}, {self.lineage} FROM {self.held} AS h
            WHERE {found} AND NOT {in_raw}
            ORDER BY h._partition_dt, h._source_file, h._source_row"""
        )
        self.conn.execute(f"DELETE FROM {self.held} AS h WHERE {found}")
        stats.rows_held_expired = self.run(
            f"""INSERT INTO {self.quarantine} SELECT h._source_file, h._source_row,
                h._partition_dt, {why}, h._record, {self.id}, {self.stamp}
            FROM {self.held} AS h WHERE {expired}
            ORDER BY h._partition_dt, h._source_file, h._source_row"""
        )
        self.conn.execute(f"DELETE FROM {self.held} AS h WHERE {expired}")
        stats.rows_waiting = self.run(f"SELECT count(*) FROM {self.held}")
        query = f"SELECT _reason, count(*) FROM {self.held} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
        stats.waiting_reasons = dict(self.conn.execute(query).fetchall())


def load_feed(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    files: list[LandingFile],
    landing_root: Path,
    load_id: str,
    references_schema: str | None = None,
    orphan_grace_days: int | None = None,
) -> LoadStats:
    """Replace what the partitions of `files` loaded before with what these files hold; other
    partitions keep their rows. `references_schema` holds the loaded parent tables of the
    References rules (None: not checked). With `orphan_grace_days` too, a row whose only fault is
    an unknown parent is held in `raw_held`, and every load re-checks all held rows."""
    started, dts = time.perf_counter(), sorted({f.partition_dt for f in files})
    stats = LoadStats(feed.name, len(files), dict(Counter(f.fmt for f in files)), len(dts))
    if dts:
        stats.first_partition, stats.last_partition = dts[0].isoformat(), dts[-1].isoformat()
    ensure_feed_tables(conn, feed)
    schema = references_schema
    query = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
    loaded = {name for (name,) in conn.execute(query, [schema]).fetchall()} if schema else set()
    if schema and (missing := [f"{schema}.{p}" for p in feed.parents if p not in loaded]):
        raise RuntimeError(
            f"feed {feed.name} references {', '.join(missing)}, which is not loaded yet: "
            "load the parent feed first"
        )
    hold = bool(feed.parents) and schema is not None and orphan_grace_days is not None
    load, staged = _Load(conn, feed, load_id), f"_staged_{feed.name}"
    if files:
        inspection = inspect_files(
            conn, feed, files, landing_root, staged, references_schema=schema, hold_orphans=hold
        )
        stats.not_read = not_read(feed, inspection, landing_root)
        load.compare(staged, dts)
    conn.execute("BEGIN TRANSACTION")
    try:
        if files:
            load.write(staged, dts, stats, hold)
        if hold:  # a parent loaded since may release held rows, or their grace ends
            load.recheck_held(stats, str(schema), int(orphan_grace_days or 0))
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    if files:
        set_aside = f"FROM {staged} WHERE _reason IS NOT NULL AND NOT _held"
        stats.rows_read = load.run(f"SELECT count(*) FROM {staged}")
        stats.rows_loaded = load.run("SELECT count(*) FROM _new")
        stats.rows_quarantined = load.run(f"SELECT count(*) {set_aside}")
        stats.rows_replaced = load.run("SELECT count(*) FROM _gone")
        held = stats.rows_quarantined + stats.rows_held
        stats.rows_superseded = stats.rows_read - stats.rows_loaded - held
        stats.rows_unchanged = stats.rows_loaded - stats.rows_inserted
        query = f"SELECT _reason, count(*) {set_aside} GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
        stats.quarantine_reasons = dict(conn.execute(query).fetchall())
        conn.execute("DROP VIEW _new")
        for table in (staged, "_superseded", "_same", "_gone"):
            conn.execute(f"DROP TABLE {table}")
    stats.rows_in_raw = load.run(f"SELECT count(*) FROM {load.raw}")
    stats.seconds = round(time.perf_counter() - started, 3)
    return stats
