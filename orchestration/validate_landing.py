"""Check a landing folder against the contract without touching the warehouse:
`python -m orchestration.validate_landing [LANDING_DIR] [--json] [--config warehouse.yaml]`.

The ingest's own discovery and `inspect_files` run in an in-memory DuckDB, so the report says
what a pipeline run would do, per feed. Exit 2 when a file would be rejected (or a delivered
feed has no file), 1 for an invalid config, 0 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from orchestration import deployment, settings
from orchestration.contract import FEEDS, Feed, create_empty_raw_schema
from orchestration.ingest import landing
from orchestration.ingest.loader import Inspection, ident, inspect_files, sql_str, unread

EXIT_OK, EXIT_CONFIG, EXIT_REJECTED = 0, 1, 2
COLUMNS = ("feed", "status", "files", "rows", "dt", "dt range", "quarantined", "dup keys")
LEFT = ("feed", "status", "files", "dt range")  # the other columns are numbers
FIRST_N = 5  # how many example rows / reasons a report lists per feed


@dataclass
class Problem:
    severity: Literal["error", "warning", "info"]
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
    rows_held: int = 0  # for a parent not in the landing, within ORPHAN_GRACE_DAYS of its dt
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
        return {**asdict(self), "exit_code": self.exit_code}


def _rel(path: Path | str, root: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def discover(root: Path, feed: str, problems: list[Problem]) -> list[landing.LandingFile]:
    """The feed's files as the ingest discovers them, listing every entry outside the layout."""
    files: list[landing.LandingFile] = []
    try:
        for part in landing.feed_entries(root, feed):
            try:
                files += landing.partition_files(root, part)
            except landing.LandingFileError as exc:  # the next partition folder may be fine
                problems.append(Problem("error", feed, "layout", exc.reason, _rel(exc.file, root)))
    except landing.LandingFileError as exc:  # the feed folder is a link leading outside
        problems.append(Problem("error", feed, "layout", exc.reason, _rel(exc.file, root)))
    return files


def _columns(
    feed: Feed, root: Path, inspected: Inspection, report: FeedReport, problems: list[Problem]
) -> None:
    """Rejected files are errors; columns outside the contract and absent JSON keys warnings."""
    for exc in inspected.rejected:
        rel, kind = _rel(exc.file, root), "unreadable"
        if isinstance(exc, landing.MissingColumnsError):
            report.missing_columns[rel], kind = exc.missing, "missing_column"
        problems.append(Problem("error", feed.name, kind, exc.reason, rel, exc.line))
    for f, columns in inspected.columns.items():
        rel = _rel(f.path, root)
        extra, absent = unread(feed, f.fmt, columns)
        if extra:
            report.extra_columns[rel] = extra
            message = f"column(s) not in the contract, ignored by ingest: {', '.join(extra)}"
            problems.append(Problem("warning", feed.name, "extra_column", message, rel))
        if absent:  # JSON lines omit null keys: read as NULL, not rejected
            report.missing_columns[rel] = absent
            message = f"key(s) absent from the first lines, read as NULL: {', '.join(absent)}"
            problems.append(Problem("warning", feed.name, "missing_column", message, rel))


def analyse_rows(
    conn: duckdb.DuckDBPyConnection, feed: Feed, report: FeedReport, problems: list[Problem]
) -> None:
    """Quarantine reasons, held rows and duplicate keys of the staged rows in `_rows`; a parent
    feed's good rows go to raw.<feed> for the References rules of the feeds after it."""
    bad = "_reason IS NOT NULL AND NOT _held"
    report.rows, report.rows_held, report.rows_quarantined = conn.execute(
        f"SELECT count(*), count(*) FILTER (WHERE _held), count(*) FILTER (WHERE {bad}) FROM _rows"
    ).fetchone()
    if report.rows_held:
        grace = settings.get().orphan_grace_days
        message = (
            f"{report.rows_held} rows name an order that is not in the landing: held until it "
            f"is delivered, quarantined once orders reach more than {grace} dt days past the "
            "row's dt (ORPHAN_GRACE_DAYS)"
        )
        problems.append(Problem("warning", feed.name, "held", message))
    if report.rows_quarantined:
        query = f"SELECT _reason, count(*) FROM _rows WHERE {bad} GROUP BY 1 ORDER BY 2 DESC, 1"
        report.quarantine_reasons = dict(conn.execute(f"{query} LIMIT {FIRST_N}").fetchall())
        first = conn.execute(
            f"SELECT _source_file, _source_row, _reason FROM _rows WHERE {bad} "
            f"ORDER BY _partition_dt, _source_file, _source_row LIMIT {FIRST_N}"
        ).fetchall()
        report.first_quarantined = [{"file": f, "row": r, "reason": why} for f, r, why in first]
        problems += [
            Problem("warning", feed.name, "quarantine", f"row {r}: {why}", f) for f, r, why in first
        ]
        share = report.rows_quarantined / report.rows
        limit = settings.get().for_feed("QUARANTINE_MAX_SHARE", feed.name)
        message = (
            f"{report.rows_quarantined} of {report.rows} rows would be quarantined "
            f"({share:.2%}; max {limit:.2%})"
        )
        over = ": the blocking check would stop the marts" if share > limit else ""
        problems.append(Problem("warning", feed.name, "quarantine_share", message + over))
    _duplicates(conn, feed, report, problems)
    if any(feed.name in child.parents for child in FEEDS.values()):
        cols = ", ".join([*(ident(c) for c in feed.columns), "_partition_dt"])
        conn.execute(
            f"INSERT INTO raw.{feed.name} ({cols}) SELECT {cols} FROM _rows WHERE _reason IS NULL"
        )
    conn.execute("DROP TABLE _rows")


def _duplicates(
    conn: duckdb.DuckDBPyConnection, feed: Feed, report: FeedReport, problems: list[Problem]
) -> None:
    key = ", ".join(ident(k) for k in feed.key)
    report.keys_delivered_more_than_once, report.keys_in_several_files = conn.execute(
        f"""SELECT count(*) FILTER (WHERE n > 1), count(*) FILTER (WHERE files > 1)
        FROM (SELECT count(*) AS n, count(DISTINCT _source_file) AS files
              FROM _rows WHERE _reason IS NULL GROUP BY {key})"""
    ).fetchone()
    # Same key, same updated_ts (feeds without one: same partition), other content.
    tie_name = feed.updated_column or "_partition_dt"
    content = ", ".join(f"{sql_str(c)}: {ident(c)}" for c in feed.columns)
    conflicts = conn.execute(
        f"""SELECT {key}, {ident(tie_name)}, list(DISTINCT _source_file ORDER BY _source_file)
        FROM _rows WHERE _reason IS NULL GROUP BY {key}, {ident(tie_name)}
        HAVING count(DISTINCT md5(CAST(to_json({{{content}}}) AS VARCHAR))) > 1 ORDER BY ALL"""
    ).fetchall()
    report.conflicting_keys = len(conflicts)
    for *key_values, tie, files in conflicts[:FIRST_N]:
        keys = dict(zip(feed.key, (str(v) for v in key_values), strict=True))
        report.conflict_examples.append({"key": keys, tie_name: str(tie), "files": files})
        message = (
            f"key {', '.join(f'{k}={v}' for k, v in keys.items())} delivered with the same "
            f"{tie_name} {tie} but different content in {', '.join(files)}: which version wins "
            "is file order"
        )
        problems.append(Problem("warning", feed.name, "conflict", message))


def validate(
    root: Path, config: deployment.Deployment, progress: Callable[[str], object] | None = None
) -> LandingReport:
    """Check `root` against the contract and `config`; `progress` is told each feed's name."""
    started = time.perf_counter()
    report = LandingReport(landing=str(root), config=config.source)
    problems = report.problems
    if not root.is_dir():
        problems.append(Problem("error", "-", "layout", f"landing folder {root} does not exist"))
        return report
    for entry, _, message in landing.stray_entries(root, list(FEEDS)):
        problems.append(Problem("warning", "-", "layout", message, entry.name))
    with duckdb.connect(":memory:") as conn:
        conn.execute("SET TimeZone = 'UTC'")  # the loader's rule: a naive timestamp is UTC
        create_empty_raw_schema(conn)
        for name, feed in FEEDS.items():
            if progress is not None:
                progress(name)
            fr = _validate_feed(conn, feed, root, config, problems)
            severities = {p.severity for p in problems if p.feed == name}
            if fr.status == "ok" and severities & {"error", "warning"}:
                fr.status = "rejected" if "error" in severities else "warnings"
            report.feeds[name] = fr
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _validate_feed(
    conn: duckdb.DuckDBPyConnection,
    feed: Feed,
    root: Path,
    config: deployment.Deployment,
    problems: list[Problem],
) -> FeedReport:
    files = discover(root, feed.name, problems)
    report = FeedReport(feed=feed.name, configured=config.delivers(feed.name))
    report.files_by_format = dict(Counter(f.fmt for f in files))
    dts = sorted({f.partition_dt for f in files})
    report.partitions = len(dts)
    if dts:
        report.first_dt, report.last_dt = dts[0].isoformat(), dts[-1].isoformat()
    if not files and not any(p.feed == feed.name and p.kind == "layout" for p in problems):
        if report.configured:
            report.status = "missing"
            message = (
                f"configured as delivered ({config.source}) but no file under "
                f"{root / feed.name}/dt=YYYY-MM-DD/: the pipeline would fail"
            )
            problems.append(Problem("error", feed.name, "undelivered", message))
        else:
            report.status = "not delivered"
            message = "not delivered: loads as an empty table"
            problems.append(Problem("info", feed.name, "undelivered", message))
        return report
    if not report.configured:
        report.status = "unconfigured"
        message = (
            f"{len(files)} file(s) delivered but the feed is not in `feeds` of "
            f"{config.source}: ingest ignores them (add the feed to load them)"
        )
        problems.append(Problem("warning", feed.name, "unconfigured", message))
    inspected = inspect_files(
        conn, feed, files, root, "_rows", references_schema="raw" if feed.parents else None,
        hold_orphans=True, grace_days=settings.get().orphan_grace_days, keep_going=True,
    )  # fmt: skip
    report.rejected_files = len(inspected.rejected)
    _columns(feed, root, inspected, report, problems)
    if inspected.table:
        analyse_rows(conn, feed, report, problems)
    return report


STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
STATUS_STYLE = {"ok": "green", "warnings": "yellow", "rejected": "bold red", "missing": "bold red"}
STATUS_STYLE |= {"not delivered": "dim", "unconfigured": "yellow"}


def render(report: LandingReport, console: Any) -> None:
    """The report as rich tables: one row per feed, then every problem."""
    from rich.table import Table

    title = f"Landing {report.landing}  (config: {report.config})"
    table = Table(title=title, title_justify="left")
    for col in (*COLUMNS, "conflicts"):
        table.add_column(col, no_wrap=True, justify="left" if col in LEFT else "right")
    for fr in report.feeds.values():
        table.add_row(
            fr.feed,
            f"[{STATUS_STYLE.get(fr.status, '')}]{fr.status}[/]",
            " ".join(f"{n} {fmt}" for fmt, n in sorted(fr.files_by_format.items())) or "-",
            f"{fr.rows:,}",
            str(fr.partitions),
            f"{fr.first_dt}..{fr.last_dt}" if fr.first_dt else "-",
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
            severity = f"[{STYLE[p.severity]}]{p.severity}[/]"
            problems.add_row(severity, p.feed, p.kind, where, p.message)
        console.print(problems)
    counts = Counter(p.severity for p in report.problems)
    errors, warnings = counts["error"], counts["warning"]
    verdict = "[bold red]files would be rejected" if errors else "[green]nothing would be rejected"
    summary = f"{errors} error(s), {warnings} warning(s) in {report.seconds:.1f}s"
    console.print(f"{verdict}[/]: {summary} (exit {report.exit_code})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.validate_landing",
        description="Check a landing folder against the contract; writes nothing.",
    )
    parser.add_argument("landing", nargs="?", help="landing folder (default: env LANDING_DIR)")
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

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the tables into 80 columns
        console = Console(width=160)
    with Console(stderr=True).status("validating") as status:
        report = validate(root, config, lambda feed: status.update(f"validating {feed}"))
    render(report, console)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
