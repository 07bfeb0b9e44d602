"""Check a landing folder against the contract without touching the warehouse.

    python -m orchestration.validate_landing [LANDING_DIR] [--json] [--config warehouse.yaml]

Everything runs in an in-memory DuckDB with the ingest's own pieces (discovery rules, header
checks, readers, typing and row rules from orchestration/ingest), so what it reports is what a
pipeline run would do: per feed, the files by format, rows, partitions and dt range, missing and
extra columns, the rows that would be quarantined with their first reasons, and keys delivered
more than once (normal for updates; a key delivered twice with the SAME updated_ts but different
content is flagged, since which version wins is then down to file order).

Exit code: 2 when a file would be rejected (or a delivered feed has no file, which fails the run
too); 1 when the config is invalid; 0 otherwise, warnings included.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from orchestration import deployment, settings
from orchestration.contract import FEEDS, FUTURE_TOLERANCE, Feed, create_empty_raw_schema
from orchestration.ingest import landing as landing_mod
from orchestration.ingest.landing import LandingFile, LandingFileError, describe_unknown_entry
from orchestration.ingest.loader import (
    _format_select,
    _held_expr,
    _ident,
    _not_delivered_reason,
    _raise_for_bad_file,
    _reason_parts,
    check_file_headers,
    delivered_columns,
    group_by_layout,
)

Severity = Literal["error", "warning", "info"]
EXIT_OK, EXIT_CONFIG, EXIT_REJECTED = 0, 1, 2
FIRST_N = 5  # how many example rows / reasons a report lists per feed


@dataclass
class Problem:
    severity: Severity
    feed: str
    kind: str  # layout, unreadable, missing_column, extra_column, quarantine, conflict, ...
    message: str
    file: str | None = None
    line: int | None = None


@dataclass
class FeedReport:
    feed: str
    configured: bool  # in the deployment's `feeds`
    status: str = "ok"  # ok | warnings | rejected | not delivered | missing | unconfigured
    files_by_format: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    partitions: int = 0
    first_dt: str | None = None
    last_dt: str | None = None
    rejected_files: int = 0
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # file -> columns
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    rows_quarantined: int = 0
    rows_held: int = 0  # for an order not in the landing, within ORPHAN_GRACE_DAYS of its dt
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    first_quarantined: list[dict[str, Any]] = field(default_factory=list)
    keys_delivered_more_than_once: int = 0
    keys_in_several_files: int = 0
    conflicting_keys: int = 0
    conflict_examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LandingReport:
    landing: str
    config: str
    seconds: float = 0.0
    feeds: dict[str, FeedReport] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if any(p.severity == "error" for p in self.problems) else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "landing": self.landing,
            "config": self.config,
            "exit_code": self.exit_code,
            "seconds": self.seconds,
            "feeds": {name: asdict(r) for name, r in self.feeds.items()},
            "problems": [asdict(p) for p in self.problems],
        }


# ------------------------------------------------------------------------------ discovery


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def discover(root: Path, feed: str, problems: list[Problem]) -> list[LandingFile]:
    """The feed's files as the ingest discovers them, every layout breach listed, not just one.

    The ingest rejects the whole feed at the first folder or file outside
    `<feed>/dt=YYYY-MM-DD/<file>.<csv|csv.gz|jsonl|jsonl.gz|parquet>`; here each is an error.
    """
    feed_dir = root / feed
    files: list[LandingFile] = []
    if not feed_dir.is_dir():
        return files
    try:
        landing_mod.check_inside(root, feed_dir)
    except LandingFileError as exc:
        problems.append(Problem("error", feed, "layout", exc.reason, feed))
        return files
    for part in sorted(p for p in feed_dir.iterdir() if not landing_mod._is_hidden(p)):
        try:  # one folder at a time through the ingest's own discovery rules
            files.extend(_discover_partition(root, part))
        except LandingFileError as exc:
            problems.append(
                Problem("error", feed, "layout", exc.reason, _rel(Path(exc.file), root))
            )
    return files


def _discover_partition(root: Path, part: Path) -> list[LandingFile]:
    landing_mod.check_inside(root, part)
    match = landing_mod._PARTITION_DIR.match(part.name)
    if not part.is_dir() or not match:
        raise LandingFileError(
            part, "outside the layout: expected a partition folder named dt=YYYY-MM-DD"
        )
    try:
        partition_dt = date.fromisoformat(match.group(1))
    except ValueError:
        raise LandingFileError(part, f"invalid partition date {match.group(1)!r}") from None
    found = []
    for path in sorted(p for p in part.iterdir() if not landing_mod._is_hidden(p)):
        landing_mod.check_inside(root, path)
        fmt = landing_mod.file_format(path)
        if fmt is None or not path.is_file():
            raise LandingFileError(
                path, f"unsupported file type (expected one of {', '.join(landing_mod.FORMATS)})"
            )
        found.append(LandingFile(partition_dt, path, fmt))
    return found


# ------------------------------------------------------------------------------ columns


def _missing_columns(conn: duckdb.DuckDBPyConnection, feed: Feed, f: LandingFile) -> list[str]:
    """The contract columns a rejected file lacks (all of them when it cannot be read)."""
    try:
        found = delivered_columns(conn, f)
    except (OSError, EOFError, ValueError, LandingFileError, duckdb.Error):
        found = []
    return [c for c in feed.columns if c not in found]


def check_columns(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    files: list[LandingFile],
    root: Path,
    report: FeedReport,
    problems: list[Problem],
) -> tuple[list[LandingFile], dict[Path, tuple[str, ...]]]:
    """Files that pass the ingest's header checks, and their columns; the others are errors."""
    good: list[LandingFile] = []
    headers: dict[Path, tuple[str, ...]] = {}
    for f in files:
        rel = _rel(f.path, root)
        try:
            headers.update(check_file_headers(conn, feed, [f]))
        except LandingFileError as exc:
            kind = "missing_column" if "missing required column" in exc.reason else "unreadable"
            problems.append(Problem("error", feed.name, kind, exc.reason, rel, exc.line))
            if kind == "missing_column":
                report.missing_columns[rel] = _missing_columns(conn, feed, f)
            continue
        try:
            found = delivered_columns(conn, f)
        except (OSError, EOFError, UnicodeDecodeError, ValueError, duckdb.Error):
            found = list(feed.columns)  # the full read below names what is wrong
        extra = [c for c in found if c and c not in feed.columns]  # unnamed: ignored too
        if extra:
            report.extra_columns[rel] = extra
            problems.append(
                Problem(
                    "warning",
                    feed.name,
                    "extra_column",
                    f"column(s) not in the contract, ignored by ingest: {', '.join(extra)}",
                    rel,
                )
            )
        missing = [c for c in feed.columns if c not in found]
        if missing and f.fmt == "json":  # JSON lines omit null keys: read as NULL, not rejected
            report.missing_columns[rel] = missing
            problems.append(
                Problem(
                    "warning",
                    feed.name,
                    "missing_column",
                    f"key(s) absent from the first lines, read as NULL: {', '.join(missing)}",
                    rel,
                )
            )
        good.append(f)
    return good, headers


# ------------------------------------------------------------------------------ rows


def _stage(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    files: list[LandingFile],
    headers: dict[Path, tuple[str, ...]],
    root: Path,
    root_report: list[Problem],
) -> tuple[list[str], int]:
    """Read the files into temp tables as the loader does; a file that fails is an error."""
    parts: list[str] = []
    rejected = 0
    for group in group_by_layout(files, headers):
        candidates = [group]
        try:
            conn.execute(
                f"CREATE TEMP TABLE _v{len(parts)} AS "
                + _format_select(group[0].fmt, group, feed, root, headers[group[0].path])
            )
            parts.append(f"_v{len(parts)}")
            continue
        except duckdb.Error:
            candidates = [[f] for f in group]  # find which files are broken, keep the rest
        for single in candidates:
            try:
                _raise_for_bad_file(conn, feed, single, headers)
                conn.execute(
                    f"CREATE TEMP TABLE _v{len(parts)} AS "
                    + _format_select(single[0].fmt, single, feed, root, headers[single[0].path])
                )
                parts.append(f"_v{len(parts)}")
            except LandingFileError as exc:
                rejected += 1
                root_report.append(
                    Problem(
                        "error",
                        feed.name,
                        "unreadable",
                        exc.reason,
                        _rel(single[0].path, root),
                        exc.line,
                    )
                )
    return parts, rejected


def analyse_rows(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    parts: list[str],
    report: FeedReport,
    problems: list[Problem],
) -> None:
    """Quarantine reasons, held rows and duplicate keys of the staged rows; orders feed
    raw.orders (the whole landing's, as a run over every dt loads them)."""
    _stage_rows(conn, feed, parts)
    report.rows = conn.execute("SELECT count(*) FROM _rows").fetchone()[0]
    report.rows_held = conn.execute("SELECT count(*) FROM _rows WHERE _held").fetchone()[0]
    if report.rows_held:
        grace = settings.value("ORPHAN_GRACE_DAYS")
        problems.append(
            Problem(
                "warning",
                feed.name,
                "held",
                f"{report.rows_held} rows name an order that is not in the landing: held until "
                f"it is delivered, quarantined once orders reach more than {grace} dt days past "
                "the row's dt (ORPHAN_GRACE_DAYS)",
            )
        )
    report.rows_quarantined = conn.execute(
        "SELECT count(*) FROM _rows WHERE _reason IS NOT NULL AND NOT _held"
    ).fetchone()[0]
    if report.rows_quarantined:
        report.quarantine_reasons = dict(
            conn.execute(
                "SELECT _reason, count(*) FROM _rows WHERE _reason IS NOT NULL AND NOT _held "
                f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {FIRST_N}"
            ).fetchall()
        )
        report.first_quarantined = [
            {"file": f, "row": r, "reason": why}
            for f, r, why in conn.execute(
                "SELECT _source_file, _source_row, _reason FROM _rows "
                "WHERE _reason IS NOT NULL AND NOT _held "
                f"ORDER BY _partition_dt, _source_file, _source_row LIMIT {FIRST_N}"
            ).fetchall()
        ]
        share = report.rows_quarantined / report.rows
        limit = settings.quarantine_max_share(feed.name)
        over = share > limit
        problems.extend(
            Problem("warning", feed.name, "quarantine", f"row {q['row']}: {q['reason']}", q["file"])
            for q in report.first_quarantined
        )
        problems.append(
            Problem(
                "warning",
                feed.name,
                "quarantine_share",
                f"{report.rows_quarantined} of {report.rows} rows would be quarantined "
                f"({share:.2%}; max {limit:.2%})"
                + (": the blocking check would stop the marts" if over else ""),
            )
        )
    _duplicates(conn, feed, report, problems)
    if feed.name == "orders":  # the parent of the References rules of later feeds
        cols = ", ".join([*(_ident(c) for c in feed.columns), "_partition_dt"])
        conn.execute(
            f"INSERT INTO raw.orders ({cols}) SELECT {cols} FROM _rows WHERE _reason IS NULL"
        )
    conn.execute("DROP TABLE _rows")


def _stage_rows(conn: duckdb.DuckDBPyConnection, feed: Feed, parts: list[str]) -> None:
    """`_rows`: the staged rows with their `_reason` and `_held` as the ingest's load would
    give them: a row whose only fault is an order not in the landing is held, unless the
    landing's newest dt of orders is past its grace (then quarantined as not delivered)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    schema = "raw" if feed.parents else None
    other, referential = _reason_parts(feed, "s", now, FUTURE_TOLERANCE, schema)
    reason = "nullif(concat_ws('; ', " + ", ".join(other + referential) + "), '')"
    held = _held_expr(other, referential)
    body = " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _rows AS "
        f"SELECT s.*, {reason} AS _reason, {held} AS _held FROM ({body}) s"
    )
    for p in parts:
        conn.execute(f"DROP TABLE {p}")
    if referential:
        grace = int(settings.value("ORPHAN_GRACE_DAYS"))
        newest = ", ".join(f"(SELECT max(_partition_dt) FROM raw.{p})" for p in feed.parents)
        conn.execute(
            f"UPDATE _rows AS h SET _held = false, "
            f"_reason = {_not_delivered_reason(feed, 'raw', 'h', grace)} "
            f"WHERE _held AND date_diff('day', h._partition_dt, least({newest})) > {grace}"
        )


def _duplicates(
    conn: duckdb.DuckDBPyConnection, feed: Feed, report: FeedReport, problems: list[Problem]
) -> None:
    key = ", ".join(_ident(k) for k in feed.key)
    stats = conn.execute(
        f"""SELECT count(*) FILTER (WHERE n > 1), count(*) FILTER (WHERE files > 1)
        FROM (SELECT count(*) AS n, count(DISTINCT _source_file) AS files
              FROM _rows WHERE _reason IS NULL GROUP BY {key})"""
    ).fetchone()
    report.keys_delivered_more_than_once, report.keys_in_several_files = stats
    # Same key, same updated_ts (feeds without one: same partition), different content: the
    # ingest keeps one version by file order, which is rarely what the exporter meant.
    tie = _ident(feed.updated_column) if feed.updated_column else "_partition_dt"
    content = ", ".join(f"{_sql_name(c)}: {_ident(c)}" for c in feed.columns)
    conflicts = conn.execute(
        f"""SELECT {key}, {tie} AS tie, list(DISTINCT _source_file ORDER BY _source_file) AS files
        FROM _rows WHERE _reason IS NULL
        GROUP BY {key}, {tie}
        HAVING count(DISTINCT md5(CAST(to_json({{{content}}}) AS VARCHAR))) > 1
        ORDER BY ALL"""
    ).fetchall()
    report.conflicting_keys = len(conflicts)
    tie_name = feed.updated_column or "_partition_dt"
    for row in conflicts[:FIRST_N]:
        example = {
            "key": dict(zip(feed.key, (str(v) for v in row[: len(feed.key)]), strict=True)),
            tie_name: str(row[len(feed.key)]),
            "files": row[-1],
        }
        report.conflict_examples.append(example)
        key_text = ", ".join(f"{k}={v}" for k, v in example["key"].items())
        problems.append(
            Problem(
                "warning",
                feed.name,
                "conflict",
                f"key {key_text} delivered with the same {tie_name} {example[tie_name]} but "
                f"different content in {', '.join(row[-1])}: which version wins is file order",
            )
        )


def _sql_name(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


# ------------------------------------------------------------------------------ the whole check


def validate(
    root: Path, config: deployment.Deployment, progress: Any | None = None
) -> LandingReport:
    """Check `root` against the contract and `config` in an in-memory DuckDB."""
    started = time.perf_counter()
    report = LandingReport(landing=str(root), config=config.source)
    problems = report.problems
    if not root.is_dir():
        problems.append(Problem("error", "-", "layout", f"landing folder {root} does not exist"))
        return report
    for entry in landing_mod.unknown_entries(root, FEEDS):
        problems.append(
            Problem(
                "warning", "-", "layout", describe_unknown_entry(entry, list(FEEDS)), entry.name
            )
        )
    discovered = {name: discover(root, name, problems) for name in FEEDS}
    task = None
    if progress is not None:
        total = sum(len(fs) for fs in discovered.values())
        task = progress.add_task("validating", total=total)
    conn = duckdb.connect(":memory:")
    try:
        conn.execute("SET TimeZone = 'UTC'")  # the loader's rule: a naive timestamp is UTC
        create_empty_raw_schema(conn)
        for name, feed in FEEDS.items():
            files = discovered[name]
            if progress is not None:
                progress.update(task, description=f"validating {name}")
            report.feeds[name] = _validate_feed(conn, feed, files, root, config, problems)
            if progress is not None:
                progress.advance(task, len(files))
    finally:
        conn.close()
    for name, fr in report.feeds.items():
        mine = [p for p in problems if p.feed == name]
        if fr.status in ("ok",) and any(p.severity == "error" for p in mine):
            fr.status = "rejected"
        elif fr.status == "ok" and any(p.severity == "warning" for p in mine):
            fr.status = "warnings"
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _validate_feed(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    files: list[LandingFile],
    root: Path,
    config: deployment.Deployment,
    problems: list[Problem],
) -> FeedReport:
    report = FeedReport(feed=feed.name, configured=config.delivers(feed.name))
    has_layout_error = any(p.feed == feed.name and p.kind == "layout" for p in problems)
    report.files_by_format = dict(Counter(f.fmt for f in files))
    dts = sorted({f.partition_dt for f in files})
    report.partitions = len(dts)
    if dts:
        report.first_dt, report.last_dt = dts[0].isoformat(), dts[-1].isoformat()
    if not files and not has_layout_error:
        if report.configured:
            report.status = "missing"
            problems.append(
                Problem(
                    "error",
                    feed.name,
                    "undelivered",
                    f"configured as delivered ({config.source}) but no file under "
                    f"{root / feed.name}/dt=YYYY-MM-DD/: the pipeline would fail",
                )
            )
        else:
            report.status = "not delivered"
            problems.append(
                Problem("info", feed.name, "undelivered", "not delivered: loads as an empty table")
            )
        return report
    if not report.configured:
        report.status = "unconfigured"
        problems.append(
            Problem(
                "warning",
                feed.name,
                "unconfigured",
                f"{len(files)} file(s) delivered but the feed is not in `feeds` of "
                f"{config.source}: ingest ignores them (add the feed to load them)",
            )
        )
    good, headers = check_columns(conn, feed, files, root, report, problems)
    parts, rejected = _stage(conn, feed, good, headers, root, problems)
    report.rejected_files = len(files) - len(good) + rejected
    if parts:
        analyse_rows(conn, feed, parts, report, problems)
    return report


# ------------------------------------------------------------------------------ output


_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
_STATUS_STYLE = {
    "ok": "green",
    "warnings": "yellow",
    "rejected": "bold red",
    "missing": "bold red",
    "not delivered": "dim",
    "unconfigured": "yellow",
}


def render(report: LandingReport, console: Any) -> None:
    """The report as rich tables: one row per feed, then every problem."""
    from rich.table import Table

    table = Table(
        title=f"Landing {report.landing}  (config: {report.config})", title_justify="left"
    )
    for col, justify in (
        ("feed", "left"),
        ("status", "left"),
        ("files", "left"),
        ("rows", "right"),
        ("dt", "right"),
        ("dt range", "left"),
        ("quarantined", "right"),
        ("dup keys", "right"),
        ("conflicts", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for fr in report.feeds.values():
        files = " ".join(f"{n} {fmt}" for fmt, n in sorted(fr.files_by_format.items())) or "-"
        dt_range = f"{fr.first_dt}..{fr.last_dt}" if fr.first_dt else "-"
        table.add_row(
            fr.feed,
            f"[{_STATUS_STYLE.get(fr.status, '')}]{fr.status}[/]",
            files,
            f"{fr.rows:,}",
            str(fr.partitions),
            dt_range,
            f"{fr.rows_quarantined:,}",
            f"{fr.keys_delivered_more_than_once:,}",
            str(fr.conflicting_keys),
        )
    console.print(table)
    shown = [p for p in report.problems if p.severity != "info"]
    if shown:
        problems = Table(title="Problems", title_justify="left")
        for col in ("severity", "feed", "kind"):
            problems.add_column(col, no_wrap=True)
        problems.add_column("where", overflow="fold", max_width=48)
        problems.add_column("problem", overflow="fold", ratio=1)
        for p in shown:
            where = (p.file or "") + (f":{p.line}" if p.line is not None else "")
            problems.add_row(
                f"[{_STYLE[p.severity]}]{p.severity}[/]", p.feed, p.kind, where, p.message
            )
        console.print(problems)
    errors = sum(p.severity == "error" for p in report.problems)
    warnings = sum(p.severity == "warning" for p in report.problems)
    verdict = (
        "[bold red]files would be rejected[/]" if errors else "[green]nothing would be rejected[/]"
    )
    console.print(
        f"{verdict}: {errors} error(s), {warnings} warning(s) in {report.seconds:.1f}s "
        f"(exit {report.exit_code})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.validate_landing",
        description="Check a landing folder against the contract; writes nothing.",
    )
    parser.add_argument(
        "landing", nargs="?", help="landing folder (default: env LANDING_DIR, else data/landing)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    parser.add_argument("--config", help="deployment config (default: env WAREHOUSE_CONFIG)")
    args = parser.parse_args(argv)
    root = settings.resolve_path(args.landing or settings.raw("LANDING_DIR"))
    try:
        config = deployment.load_config(settings.resolve_path(args.config) if args.config else None)
    except deployment.DeploymentConfigError as exc:
        sys.stderr.write(f"invalid deployment config: {exc}\n")
        return EXIT_CONFIG
    if args.json:
        report = validate(root, config)
        sys.stdout.write(json.dumps(report.to_json(), indent=2, default=str) + "\n")
        return report.exit_code
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the tables into 80 columns
        console = Console(width=160)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        report = validate(root, config, progress)
    render(report, console)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
