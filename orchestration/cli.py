"""Command line behind the Makefile: `prepare`, `pipeline` and `where`.

`pipeline` runs the `full_pipeline` job in the persistent Dagster instance (DAGSTER_HOME), so the
run shows in `make ui`, and exits non-zero naming every failed step and failed check. It loads
the landing's dt partitions `--from`..`--to` (default: every dt in the landing) in one run — a
first load, a backfill and a one-day incremental run (`--from D --to D`) are the same command.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration import settings
from orchestration.ingest.landing import LandingFileError

if TYPE_CHECKING:
    from dagster import DagsterInstance, ExecuteInProcessResult, JobDefinition
    from dagster._core.execution.plan.objects import StepFailureData

    from orchestration.partitions import DateRange

DAGSTER_YAML = """\
# Written by `python -m orchestration.cli`; edit freely, it is not overwritten.
telemetry:
  enabled: false
concurrency:
  pools:
    # every writer of the working DuckDB file shares the pool `duckdb_warehouse`
    default_limit: 1
# The stock SQLite event log with one engine per shard and batched writes: a backfill over a
# year of partitions logs ~9,500 asset events (orchestration/dagster_storage.py).
event_log_storage:
  module: orchestration.dagster_storage
  class: FastSqliteEventLogStorage
"""


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------------ prepare


def _newest_mtime(root: Path) -> float:
    skip = {"target", "logs", "dbt_packages"}
    newest = 0.0
    for path in root.rglob("*"):
        if path.is_file() and not skip.intersection(path.relative_to(root).parts):
            newest = max(newest, path.stat().st_mtime)
    return newest


def prepare(force: bool = False) -> None:
    """`dbt parse` into dbt_project/target/manifest.json, unless it is newer than the project."""
    project = settings.DBT_PROJECT_DIR
    manifest = project / "target" / "manifest.json"
    if not force and manifest.exists() and manifest.stat().st_mtime >= _newest_mtime(project):
        _say(f"dbt manifest up to date: {manifest.relative_to(settings.REPO_ROOT)}")
        return
    settings.apply_env_defaults()
    env = {**os.environ, "WAREHOUSE_PATH": str(settings.warehouse_path())}
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [
        str(dbt),
        "parse",
        "--quiet",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        # Exactly what `dbt build` gets at run time (target, vars): dbt re-parses the whole
        # project when they differ from the parse that wrote target/partial_parse.msgpack.
        "--target",
        settings.dbt_target(),
    ]
    overrides = settings.dbt_vars()
    if overrides:
        cmd += ["--vars", json.dumps(overrides)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=project)
    _say(f"dbt manifest parsed in {time.perf_counter() - started:.1f}s")


# ------------------------------------------------------------------------------------ pipeline


def ensure_dagster_home() -> Path:
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@dataclass
class RunReport:
    """What a pipeline run did, read from its event log."""

    success: bool
    run_id: str
    step_seconds: dict[str, float] = field(default_factory=dict)
    failed_steps: dict[str, str] = field(default_factory=dict)
    skipped_steps: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # severity ERROR
    warned_checks: list[str] = field(default_factory=list)  # severity WARN
    checks_passed: int = 0
    materialized: int = 0
    # numeric materialization metadata per asset (rows_read, dagster/row_count, …): --report-json
    asset_numbers: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_steps and not self.failed_checks


def stage_of(step_key: str) -> str:
    """Which stage a step belongs to, for the ingest / dbt / GX time split."""
    if step_key.startswith("raw__"):
        return "ingest"
    if step_key.startswith("dbt_"):
        return "dbt"
    if "gx" in step_key:
        return "gx"
    if step_key.startswith("serving__"):
        return "publish"
    return "other"


def failure_reason(failure_data: StepFailureData) -> str:
    """The root cause of a step failure: a `dg.Failure` description, else the innermost error."""
    user = getattr(failure_data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description
    error = failure_data.error
    if error is None:
        return "failed"
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}"


def report_from_result(result: ExecuteInProcessResult) -> RunReport:
    import dagster as dg

    report = RunReport(success=result.success, run_id=result.run_id)
    for event in result.all_events:
        step = event.step_key
        if event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            duration = getattr(event.event_specific_data, "duration_ms", None)
            if duration is not None:
                report.step_seconds[step] = duration / 1000
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                report.failed_steps[step] = failure_reason(event.event_specific_data)
        elif event.event_type == dg.DagsterEventType.STEP_SKIPPED:
            report.skipped_steps.append(step)
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            report.materialized += 1
            materialization = event.event_specific_data.materialization
            report.asset_numbers[materialization.asset_key.to_user_string()] = {
                name: value.value
                for name, value in materialization.metadata.items()
                if isinstance(value.value, int | float) and not isinstance(value.value, bool)
            }
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                report.checks_passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                report.warned_checks.append(name)
            else:
                report.failed_checks.append(name)
    return report


def print_report(report: RunReport, wall_seconds: float) -> None:
    by_stage: dict[str, float] = defaultdict(float)
    for step, seconds in report.step_seconds.items():
        by_stage[stage_of(step)] += seconds
    split = ", ".join(f"{stage} {secs:.1f}s" for stage, secs in sorted(by_stage.items()))
    _say(f"run {report.run_id}: {wall_seconds:.1f}s wall ({split})")
    _say(
        f"  {report.materialized} assets materialized, {report.checks_passed} checks passed, "
        f"{len(report.warned_checks)} warnings, {len(report.failed_checks)} failed checks"
    )
    for name in report.warned_checks:
        _say(f"  WARN  check {name}")
    for name in report.failed_checks:
        _say(f"  FAIL  check {name}")
    for step, message in report.failed_steps.items():
        _say(f"  FAIL  step {step}: {message.splitlines()[0] if message else ''}")
    for step in report.skipped_steps:
        _say(f"  SKIP  step {step} (an upstream step or blocking check failed)")


def pipeline_dates(first: date | None = None, last: date | None = None) -> DateRange:
    """The dt range to load: the given bounds, the landing's first / last dt for the others."""
    # Imported here: `prepare` and `where` should not pay for importing Dagster.
    from orchestration.partitions import DateRange, landing_range

    if first is None or last is None:
        landing = settings.landing_dir()
        found = landing_range(landing)
        if found is None:
            raise UsageError(
                f"no dt=YYYY-MM-DD partitions under LANDING_DIR={landing}: "
                "generate the sample (make sample) or point LANDING_DIR at a landing"
            )
        first, last = first or found.first, last or found.last
    return DateRange(first, last)


def _load_pipeline(instance: DagsterInstance | None) -> tuple[JobDefinition, DagsterInstance]:
    """`full_pipeline` and the instance to run it in (default: the persistent one).

    Importing Dagster, dagster-dbt and the definitions leaves a large heap that lives as long as
    the run (modules, asset and check specs, the dbt manifest). Left to the collector, each
    full (gen-2) pass of the run scans all of it again: 8 passes of 0.04-0.28 s during a
    one-day run's start-up and ingest steps, ~1.1 s on the critical path. The collector is off
    while it is built and then freezes it (gc.freeze: never scanned, never freed).
    """
    gc.disable()
    try:
        import dagster as dg

        from orchestration.definitions import defs

        job = defs.resolve_job_def("full_pipeline")
    finally:
        gc.freeze()
        gc.enable()
    if instance is None:
        ensure_dagster_home()
        instance = dg.DagsterInstance.get()
    return job, instance


def run_pipeline(
    instance: DagsterInstance | None = None,
    log_level: str = "INFO",
    dates: DateRange | None = None,
) -> RunReport:
    """Run `full_pipeline` over `dates` (default: every dt of the landing) in `instance`
    (default: the persistent one in DAGSTER_HOME)."""
    settings.apply_env_defaults()
    from orchestration import dbt_warm

    # The dbt build's warm process imports dbt and parses the project on the other core while
    # this one imports Dagster and the definitions (the run's dbt resource adopts it).
    dbt_warm.start_early(dbt_warm.pipeline_spec())
    try:
        job, instance = _load_pipeline(instance)
        dates = dates or pipeline_dates()
        _say(f"loading dt {dates} ({dates.days} day{'s' if dates.days > 1 else ''})")
        started = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            tags=dates.tags(),
            raise_on_error=False,
            # Step-level DEBUG events go to the event log (and the UI), not the terminal.
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    finally:
        dbt_warm.stop_early()
    report = report_from_result(result)
    report.wall_seconds = time.perf_counter() - started
    print_report(report, report.wall_seconds)
    return report


def write_report_json(report: RunReport, path: Path) -> None:
    """The run report as JSON (`pipeline --report-json PATH`), read by `make bench`."""
    by_stage: dict[str, float] = defaultdict(float)
    for step, seconds in report.step_seconds.items():
        by_stage[stage_of(step)] += seconds
    document = {
        "run_id": report.run_id,
        "ok": report.ok,
        "wall_seconds": round(report.wall_seconds, 3),
        "stage_seconds": {stage: round(secs, 3) for stage, secs in sorted(by_stage.items())},
        "step_seconds": {step: round(secs, 3) for step, secs in report.step_seconds.items()},
        "asset_numbers": report.asset_numbers,
        "checks_passed": report.checks_passed,
        "failed_checks": report.failed_checks,
        "warned_checks": report.warned_checks,
        "failed_steps": report.failed_steps,
        "skipped_steps": report.skipped_steps,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


# ------------------------------------------------------------------------------------ where


def where() -> None:
    import duckdb

    db = settings.warehouse_path()
    serving = settings.serving_dir()
    _say("")
    _say(f"Published marts (BI tools read these): {serving / 'serving.duckdb'}")
    _say(f"                 one Parquet per mart: {serving / 'parquet'}/")
    _say(f"Working warehouse (the pipeline's):    {db}")
    if db.exists():
        conn = duckdb.connect(str(db), read_only=True)
        try:
            marts = conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' ORDER BY 1"
            ).fetchall()
            for (name,) in marts:
                rows = conn.execute(f'SELECT count(*) FROM marts."{name}"').fetchone()[0]
                _say(f"  marts.{name:<28} {rows:>8} rows")
        finally:
            conn.close()
    _say("Open the UI:        make ui   (then http://127.0.0.1:3000)")
    _say(
        'Query the marts:    .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{serving / 'serving.duckdb'}', read_only=True)"
        ".sql('from marts.daily_sales limit 5'))\""
    )


class UsageError(Exception):
    """A bad argument or landing: printed as one line, exit code 2."""


def check_dates(first: date | None, last: date | None) -> None:
    """Refuse a `--from`/`--to` that no run can load, before anything runs."""
    from orchestration.partitions import partitions_start_date

    start = partitions_start_date()
    today = datetime.now(UTC).date()  # the daily partitions are UTC days, today's included
    if first and last and first > last:
        raise UsageError(f"--from {first} is after --to {last}: swap them")
    for flag, day in (("--from", first), ("--to", last)):
        if day is not None and day < start:
            raise UsageError(
                f"{flag} {day} is before PARTITIONS_START_DATE={start}: "
                "pick a later day or set PARTITIONS_START_DATE earlier"
            )
        if day is not None and day > today:
            raise UsageError(f"{flag} {day} is in the future (today is {today}): pick a past day")


def _iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_prepare = sub.add_parser("prepare", help="parse the dbt project (manifest for Dagster)")
    p_prepare.add_argument("--force", action="store_true")
    p_pipeline = sub.add_parser(
        "pipeline", help="run every asset and check; non-zero exit on failure"
    )
    p_pipeline.add_argument(
        "--from", dest="first", type=_iso_day, help="first dt (default: landing's first)"
    )
    p_pipeline.add_argument(
        "--to", dest="last", type=_iso_day, help="last dt (default: landing's last)"
    )
    p_pipeline.add_argument(
        "--report-json", type=Path, help="also write the run report (step times, rows) here"
    )
    sub.add_parser("where", help="print where the marts are and how to open them")
    sub.add_parser("check", help="validate every setting (exit 2 naming the bad one)")
    args = parser.parse_args(argv)
    try:  # every setting, before anything runs or is written
        settings.check()
        if args.command == "pipeline":
            check_dates(args.first, args.last)
            dates = pipeline_dates(args.first, args.last)
            check_dates(dates.first, dates.last)
    except (settings.SettingError, UsageError, LandingFileError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.command == "check":
        return 0
    if args.command == "prepare":
        prepare(force=args.force)
        return 0
    if args.command == "pipeline":
        report = run_pipeline(dates=dates)
        if args.report_json:
            write_report_json(report, args.report_json)
        return 0 if report.ok else 1
    where()
    return 0


def exit_fast(code: int) -> None:
    """Exit with `code`, without the interpreter's final garbage collections.

    After a pipeline run the heap holds Dagster, dbt, GX and pandas objects (~1 GB); the cyclic
    garbage collections of interpreter shutdown walk all of it, ~3 s of a short run spent before
    the process ends, to free memory the OS takes back anyway. Frozen objects are left out of
    those passes; atexit handlers, log handlers and open files are still closed as usual.
    """
    sys.stdout.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    exit_fast(main())
