"""Live progress of a pipeline run: a Dagster logger (`logger_def`) hands each event to
`RunProgress`, which redraws the five stages on a terminal (rich), or else prints a line per stage
as it ends. A retried step is said at once."""

from __future__ import annotations

import ast
import logging
import time
from dataclasses import dataclass
from typing import Any, TextIO

import dagster as dg
from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

STAGES = ("ingest", "raw checks", "dbt", "mart checks", "publish")
PREFIXES = {"raw__": "ingest", "gx_raw__": "raw checks", "dbt_": "dbt", "gx_": "mart checks"}
PREFIXES |= {"serving__": "publish", "marts__": "dbt"}  # marts__churn_risk: a model too
Kind = dg.DagsterEventType
ENDS = (Kind.STEP_SUCCESS, Kind.STEP_FAILURE, Kind.STEP_SKIPPED, Kind.STEP_UP_FOR_RETRY)
PROBLEMS = ("failed", "not run", "failed checks")


def stage_of_step(step_key: str) -> str:
    """The stage of a `full_pipeline` step (raw__orders, gx_raw__orders, dbt_models, …)."""
    return next((stage for start, stage in PREFIXES.items() if step_key.startswith(start)), "other")


def error_text(error: Any) -> str:
    """`Class: message` of the innermost cause of a Dagster error info."""
    while error.cause is not None:
        error = error.cause
    name, colon, rest = error.message.strip().partition(":")
    if colon and name.endswith(error.cls_name):
        return f"{error.cls_name}:{rest}"
    return f"{error.cls_name}: {error.message.strip()}"


def failure_reason(failure_data: Any) -> str:
    """The root cause of a step failure: a `dg.Failure` description, else the innermost error."""
    user, error = failure_data.user_failure_data, failure_data.error
    if user is not None and user.description:
        return user.description
    return "failed" if error is None else error_text(error)


def first_cause_line(message: str) -> str:
    """The first line of a failure message, with the next one when it ends in a colon."""
    lines = [line.strip() for line in message.splitlines() if line.strip()] or [""]
    return " ".join(lines[:2] if lines[0].endswith(":") else lines[:1])


@dataclass
class Stage:
    """What the steps of one stage have done so far."""

    name: str
    total: int = 0  # known once the executor announces the run's steps
    done: int = 0
    failed: int = 0
    failed_checks: int = 0
    not_run: int = 0  # when the run is over: steps never started (an upstream step failed)
    seconds: float = 0.0  # time spent in its ended steps
    running: str | None = None
    since: float = 0.0

    @property
    def ended(self) -> bool:
        return self.done == self.total > 0

    def elapsed(self) -> float:
        return self.seconds + (time.monotonic() - self.since if self.running else 0.0)

    def note(self) -> str:
        counts = zip((self.failed, self.not_run, self.failed_checks), PROBLEMS, strict=True)
        problems = ", ".join(f"{n} {what}" for n, what in counts if n)
        return problems or self.running or ("done" if self.ended else "")

    def line(self) -> str:
        steps = f"{self.done}/{self.total or '?'} steps"
        return f"{self.name:<12} {steps:<13} {self.elapsed():6.1f}s  {self.note()}".rstrip()


class RunProgress(logging.Handler):
    """The stages of one run: a logging handler of the run's Dagster logger (`logger_def`)."""

    def __init__(self, out: TextIO, verbose: bool) -> None:
        super().__init__(logging.DEBUG)
        self.console = console = Console(file=out)
        self.stages = {name: Stage(name) for name in STAGES}
        options = {"redirect_stdout": False, "redirect_stderr": False}
        live = console.is_terminal and not verbose  # else a line per stage as it ends
        self.live = Live(console=console, get_renderable=self.render, **options) if live else None

    def __enter__(self) -> RunProgress:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for stage in self.stages.values():
            stage.not_run = stage.total - stage.done - (stage.running is not None)
            if self.live is None and not stage.ended and (stage.total or stage.done):
                self.say(stage.line())
        if self.live is not None:
            self.live.stop()

    def stage(self, step_key: str) -> Stage:
        name = stage_of_step(step_key)
        return self.stages.setdefault(name, Stage(name))

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def render(self) -> Table:
        table = Table.grid(padding=(0, 2))
        for stage in list(self.stages.values()):  # the run's thread may add a stage
            bar = ProgressBar(total=stage.total or None, completed=stage.done, width=24)
            bad = stage.failed or stage.failed_checks
            note = Text(stage.note(), "red" if bad else "green" if stage.ended else "dim")
            done = f"{stage.done}/{stage.total or '?'}"
            table.add_row(stage.name, bar, done, f"{stage.elapsed():.1f}s", note)
        return table

    def emit(self, record: logging.LogRecord) -> None:
        try:  # a display error must not fail the run: logging reports it on stderr
            event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
            if isinstance(event, dg.DagsterEvent):
                self.update(event)
        except Exception:
            self.handleError(record)

    def update(self, event: dg.DagsterEvent) -> None:
        """Update the stage of the event's step (the first engine event lists the steps)."""
        kind, data = event.event_type, event.event_specific_data
        if kind == Kind.ENGINE_EVENT and not any(s.total for s in self.stages.values()):
            step_keys = getattr(data, "metadata", {}).get("step_keys")  # the in-process executor's
            for key in ast.literal_eval(step_keys.value) if step_keys else []:
                self.stage(key).total += 1
        if event.step_key is None:
            return
        stage = self.stage(event.step_key)
        if kind == Kind.STEP_START:
            stage.running, stage.since = event.step_key, time.monotonic()
        elif kind == Kind.ASSET_CHECK_EVALUATION and not data.passed:
            stage.failed_checks += int(data.severity == dg.AssetCheckSeverity.ERROR)
        elif kind in ENDS:
            stage.seconds, stage.running = stage.elapsed(), None
            if kind == Kind.STEP_UP_FOR_RETRY:  # said at once
                cause = first_cause_line(error_text(data.error))
                self.say(f"retry {event.step_key} in {data.seconds_to_wait or 0:.0f}s: {cause}")
            else:
                stage.done += 1
                stage.failed += int(kind == Kind.STEP_FAILURE)
                if self.live is None and stage.ended:
                    self.say(stage.line())


def logger_def(progress: RunProgress) -> dg.LoggerDefinition:
    """A Dagster logger that feeds every event of the run to `progress`."""
    logger = logging.Logger("orchestration.progress", logging.DEBUG)  # no parent, no root
    logger.addHandler(progress)
    return dg.LoggerDefinition(lambda _context: logger)
