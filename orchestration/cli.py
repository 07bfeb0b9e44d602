"""Command line behind the Makefile: `prepare`, `pipeline`, `where` and the settings helpers.

`pipeline` runs `full_pipeline` over the landing's dt partitions `--from`..`--to` (default: all)
in one run of the DAGSTER_HOME instance (so it shows in `make ui`), with each stage's progress
and a short summary; it exits non-zero naming every failed step and check. `-v`: full detail."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sqlite3
import sys
import threading
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from orchestration import serving, settings
from orchestration.ingest.landing import LandingFileError

if TYPE_CHECKING:
    from dagster import DagsterEvent, DagsterInstance, Definitions

    from orchestration.partitions import DateRange

DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")  # the instance: pools, no telemetry


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")


def prepare(force: bool = False) -> None:
    from orchestration.assets.dbt import prepare_manifest

    _say(prepare_manifest(force))


def ensure_dagster_home() -> Path:
    home = settings.get().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # (Re)written when it names the event log storage class of earlier versions, now gone.
    if not config.exists() or "orchestration.dagster_storage" in config.read_text():
        shutil.copyfile(DAGSTER_YAML, config)
    settings.set_process_env({"DAGSTER_HOME": str(home)})
    return home


@dataclass
class RunReport:
    """What a pipeline run did, read from its events."""

    success: bool
    run_id: str
    step_seconds: dict[str, float] = field(default_factory=dict)
    failed_steps: dict[str, str] = field(default_factory=dict)
    skipped_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # severity ERROR
    warned_checks: list[str] = field(default_factory=list)  # severity WARN
    check_causes: dict[str, str] = field(default_factory=dict)  # failed / warned: description
    checks_passed: int = 0
    materialized: int = 0  # materialization events: one per partition of a partitioned asset
    assets: set[str] = field(default_factory=set)  # the distinct asset keys materialized
    asset_numbers: dict[str, dict[str, float]] = field(default_factory=dict)  # numeric metadata
    wall_seconds: float = 0.0
    stopped: str | None = None  # why the run was stopped (a signal, a pool wait), if it was

    @property
    def ok(self) -> bool:
        return self.success and not (self.stopped or self.failed_steps or self.failed_checks)


def report_from_events(run_id: str, success: bool, events: list[DagsterEvent]) -> RunReport:
    import dagster as dg

    from orchestration.progress import Kind, failure_reason

    report = RunReport(success=success, run_id=run_id)
    for event in events:
        step, data = event.step_key, event.event_specific_data
        if event.event_type == Kind.STEP_SUCCESS:
            report.step_seconds[step] = data.duration_ms / 1000
        elif event.event_type == Kind.STEP_FAILURE:
            report.failed_steps[step] = failure_reason(data)
        elif event.event_type == Kind.STEP_SKIPPED:
            report.skipped_steps.append(step)
        elif event.event_type == Kind.ASSET_MATERIALIZATION:
            report.materialized += 1
            asset = data.materialization.asset_key.to_user_string()
            report.assets.add(asset)
            report.asset_numbers[asset] = {
                name: value.value
                for name, value in data.materialization.metadata.items()
                if isinstance(value.value, int | float) and not isinstance(value.value, bool)
            }
        elif event.event_type == Kind.ASSET_CHECK_EVALUATION:
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            if data.passed:
                report.checks_passed += 1
                continue
            report.check_causes[name] = data.description or ""
            warned = data.severity == dg.AssetCheckSeverity.WARN
            (report.warned_checks if warned else report.failed_checks).append(name)
    return report


LISTED = 8  # failed or warned checks named in the summary; the UI lists them all


def print_report(report: RunReport) -> None:
    """The run in a few lines: stage times, counts, each problem with its first cause line."""
    from orchestration.progress import STAGES, first_cause_line, stage_of_step

    by_stage: dict[str, float] = defaultdict(float)
    for step, seconds in report.step_seconds.items():
        by_stage[stage_of_step(step)] += seconds
    order = [*STAGES, *sorted(set(by_stage) - set(STAGES))]
    split = ", ".join(f"{stage} {by_stage[stage]:.1f}s" for stage in order if stage in by_stage)
    status = "ok" if report.ok else "FAILED"
    _say(f"run {report.run_id} {status} in {report.wall_seconds:.1f}s ({split})")
    _say(
        f"{len(report.assets)} assets ({report.materialized:,} partition materializations); "
        f"checks: {report.checks_passed} passed, {len(report.warned_checks)} warned, "
        f"{len(report.failed_checks)} failed"
    )
    for step, message in report.failed_steps.items():
        _say(f"  FAIL  step {step}: {first_cause_line(message)}")
    for label, names in (("FAIL", report.failed_checks), ("WARN", report.warned_checks)):
        for name in names[:LISTED]:
            _say(f"  {label}  check {name}: {first_cause_line(report.check_causes[name])}")
        if len(names) > LISTED:
            _say(f"  {label}  … and {len(names) - LISTED} more checks (make ui)")
    skipped = report.skipped_steps
    if skipped:
        more = f" and {len(skipped) - LISTED} more" if len(skipped) > LISTED else ""
        _say(f"  SKIP  {', '.join(skipped[:LISTED])}{more} (an upstream step or check failed)")
    if report.stopped:
        published = "published" if "serving/marts" in report.assets else "nothing published"
        _say(f"  STOP  {report.stopped}: the run was stopped ({published})")
    if not report.ok:
        _say(f"  full detail: make ui, run {report.run_id[:8]}; or run again with -v (VERBOSE=1)")


def pipeline_dates(first: date | None = None, last: date | None = None) -> DateRange:
    """The given bounds, else the landing's first / last dt; ValueError if no run can load it."""
    from orchestration.partitions import DateRange, landing_range  # imports Dagster: only here

    if first is None or last is None:
        landing = settings.get().landing_dir
        found = landing_range(landing)
        if found is None:
            raise ValueError(
                f"no dt=YYYY-MM-DD partitions under LANDING_DIR={landing}: "
                "generate the sample (make sample) or point LANDING_DIR at a landing"
            )
        first, last = first or found.first, last or found.last
    dates = DateRange(first, last)
    dates.tags()  # a range outside the partitions: ValueError
    return dates


@contextlib.contextmanager
def run_output(verbose: bool) -> Iterator[TextIO]:
    """The progress stream; unless verbose, fds 1 and 2 (Dagster's mirrored output) go nowhere."""
    try:
        fds = [] if verbose else [sys.stdout.fileno(), sys.stderr.fileno()]
    except (AttributeError, ValueError, io.UnsupportedOperation):  # a test's in-memory stream
        fds = []
    if not fds:
        yield sys.stdout
        return
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(fds[0]), "w", buffering=1, encoding="utf-8", errors="replace")
    saved = [os.dup(fd) for fd in fds]
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in fds:
        os.dup2(devnull, fd)
    os.close(devnull)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip(fds, saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
        terminal.close()


@contextlib.contextmanager
def event_logs_held(instance: DagsterInstance, run_id: str) -> Iterator[None]:
    """The run's and the index's SQLite event log held open by an idle reader: Dagster opens a
    connection per event, and the close of a file's last connection checkpoints its WAL."""
    path_of = getattr(instance.event_log_storage, "path_for_shard", None)  # SQLite storage
    instance.all_logs(run_id)  # creates the run's file, as its first event would
    with contextlib.ExitStack() as held:
        for shard in (run_id, "index") if path_of else ():
            uri = f"{Path(path_of(shard)).as_uri()}?mode=ro"  # percent-encoded
            conn = held.enter_context(contextlib.closing(sqlite3.connect(uri, uri=True)))
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        yield


def _execute(
    defs: Definitions, instance: DagsterInstance, dates: DateRange, out: TextIO, verbose: bool
) -> RunReport:
    """Run `full_pipeline` in a thread with the stages' progress on `out`."""
    import dagster as dg

    from orchestration import runguard
    from orchestration.progress import RunProgress, logger_def
    from orchestration.resources import WAREHOUSE_POOL

    progress = RunProgress(out, verbose)
    loggers = {"console": dg.colored_console_logger, "progress": logger_def(progress)}
    defs = dg.Definitions.merge(defs, dg.Definitions(loggers=loggers))
    job = defs.resolve_job_def("full_pipeline")
    run_id = str(uuid.uuid4())
    level = "INFO" if verbose else "ERROR"
    config = {"loggers": {"console": {"config": {"log_level": level}}, "progress": {}}}
    tags = {**dates.tags(), **runguard.process_tags()}
    progress.say(f"loading dt {dates} ({dates.days} day{'s' if dates.days > 1 else ''})")
    limit = settings.get().pool_wait_seconds
    stopped = runguard.wait_for_pool(instance, WAREHOUSE_POOL, progress.say, limit)
    if stopped:
        instance.report_run_canceled(
            instance.create_run_for_job(job_def=job, run_id=run_id, tags=tags),
            f"Stopped before its first step: {stopped}.",
        )
    started = time.perf_counter()
    run_args = {"instance": instance, "run_id": run_id, "tags": tags, "raise_on_error": False}
    # A daemon thread: a stopped run's step ends with the process, as a killed one would.
    thread = threading.Thread(
        target=job.execute_in_process, args=(config,), kwargs=run_args, daemon=True
    )
    with progress, runguard.RunStop() as stop, event_logs_held(instance, run_id):
        if not stopped:
            thread.start()
            stopped = stop.wait(thread)
            if stopped:
                progress.say(f"stopping: {stopped}; no further step runs")
                runguard.cancel(instance, run_id, stopped)
    events = [e.dagster_event for e in instance.all_logs(run_id) if e.is_dagster_event]
    run = instance.get_run_by_id(run_id)
    report = report_from_events(run_id, run is not None and run.is_success, events)
    report.stopped = stopped
    report.wall_seconds = time.perf_counter() - started
    return report


def run_pipeline(
    instance: DagsterInstance | None = None,
    dates: DateRange | None = None,
    verbose: bool | None = None,
) -> RunReport:
    """Run `full_pipeline` (default: the whole landing, DAGSTER_HOME's instance), print the
    summary. A stopped run's step may still run in its thread: the caller ends the process."""
    import dagster as dg

    from orchestration import runguard

    settings.apply_env_defaults()
    verbose = settings.get().verbose if verbose is None else verbose
    if not verbose:  # third-party warnings (e.g. dagster's BetaWarning) off the terminal
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=r"orchestration(\.|$)")
        for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
            warnings.filterwarnings("ignore", category=category)
    from orchestration.definitions import defs

    if instance is None:
        ensure_dagster_home()
        instance = dg.DagsterInstance.get()
    dates = dates or pipeline_dates()
    try:
        runguard.recover(instance, _say)
    except runguard.OtherRunRunning as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    with run_output(verbose) as out:
        report = _execute(defs, instance, dates, out, verbose)
    print_report(report)
    return report


def write_report_json(report: RunReport, path: Path) -> None:
    """The run report as JSON (`pipeline --report-json PATH`), read by `make bench`."""
    from orchestration.progress import stage_of_step

    by_stage: dict[str, float] = defaultdict(float)
    for step, seconds in report.step_seconds.items():
        stage = stage_of_step(step)
        by_stage["gx" if stage.endswith("checks") else stage] += seconds
    document = asdict(report) | {"ok": report.ok, "stage_seconds": by_stage}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=sorted) + "\n")


def _found(path: Path) -> str:
    return str(path) if path.exists() else f"{path} (not written yet: make pipeline)"


def where(verbose: bool = False) -> None:
    """Where the published marts, the report, the Data Docs, the UI and the warehouse are."""
    current = settings.get()
    folder = current.serving_dir
    db = folder / serving.DATABASE
    log = serving.read_log(db) if db.exists() else []  # its newest row is this publish
    counts: dict[str, int] = json.loads(log[-1]["row_counts"]) if log else {}
    _say("")
    _say(f"Published marts:  {_found(db)}  (Parquet: {folder / 'parquet'}/)")
    if verbose:  # a line per mart, else the largest three and the empty ones
        for name, rows in counts.items():
            _say(f"  marts.{name:<28} {rows:>10,} rows")
    elif counts:
        largest = sorted(counts.items(), key=lambda item: -item[1])[:3]
        top = ", ".join(f"{name} {rows:,}" for name, rows in largest)
        _say(f"  {len(counts)} marts, {sum(counts.values()):,} rows; largest: {top}")
        empty = [name for name, rows in counts.items() if rows == 0]
        if empty:
            _say(f"  empty: {', '.join(empty)}")
    _say(f"Report:           {_found(folder / 'report.html')}")
    _say(f"Dashboards:       make dashboards, then http://127.0.0.1:3001 ({folder}/dashboards/)")
    _say(f"Data Docs (GX):   {_found(current.gx_docs_dir / 'index.html')}")
    _say(f"Dagster UI:       make ui, then {current.dagster_ui_url}")
    _say(
        f"Query the marts:  .venv/bin/duckdb -readonly {db} "
        "-c 'from marts.daily_sales order by business_date desc limit 5'"
    )
    _say(f"Working warehouse (the pipeline's own, not for BI tools): {current.warehouse_path}")


def _iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


VERBOSE_HELP = "full detail: Dagster's event lines, dbt's output, every mart (env VERBOSE=1)"


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a bad argument refused in one line (exit 2) instead of the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} -h)\n")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m orchestration.cli", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    p_prepare = sub.add_parser("prepare", help="parse the dbt project")
    p_prepare.add_argument("--force", action="store_true")
    p_pipeline = sub.add_parser("pipeline", help="run every asset and check; exit 1 on failure")
    p_pipeline.add_argument("--from", dest="first", type=_iso_day, help="first dt (default: all)")
    p_pipeline.add_argument("--to", dest="last", type=_iso_day, help="last dt (default: all)")
    p_pipeline.add_argument("--report-json", type=Path, help="also write the run report here")
    p_where = sub.add_parser("where", help="print where the marts are and how to open them")
    for p in (p_pipeline, p_where):  # SUPPRESS: `-v pipeline` is not reset by this default
        p.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
    sub.add_parser("check", help="validate every setting (exit 2 naming the bad one)")
    p_setting = sub.add_parser("setting", help="print a setting's resolved value (for make)")
    p_setting.add_argument("name", choices=sorted(settings.BY_NAME))
    sub.add_parser("dagster-home", help="create the Dagster instance folder and print its path")
    args = parser.parse_args(argv)
    try:  # every setting, before anything runs or is written
        settings.get()
        if args.command == "pipeline":
            dates = pipeline_dates(args.first, args.last)
    except (ValueError, LandingFileError) as exc:  # a bad setting, argument or landing
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.command == "setting":
        _say(str(getattr(settings.get(), args.name.lower()) or ""))
    elif args.command == "dagster-home":
        _say(str(ensure_dagster_home()))
    elif args.command == "prepare":
        prepare(force=args.force)
    elif args.command == "where":
        where(verbose=args.verbose or settings.get().verbose)
    elif args.command == "pipeline":
        report = run_pipeline(dates=dates, verbose=args.verbose or settings.get().verbose)
        if args.report_json:
            write_report_json(report, args.report_json)
        if report.stopped:  # its step may still run in its thread: it ends with the process
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 0 if report.ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
