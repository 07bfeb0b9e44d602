"""Crashes and stops of `cli pipeline` runs (docs/operations.md, "Crashes and stops").

- Every run the CLI starts carries the host, pid and process start time of its process as tags
  (`process_tags`). A run killed with `kill -9` (or by the OOM killer, a power cut) stays
  STARTED in the instance and keeps the only slot of the `duckdb_warehouse` pool; the next run's
  steps would wait for it forever. Before a run starts, `recover` marks every such run whose
  process is gone as failed and frees the pool slots it and any finished run still hold. A run
  whose process is alive is a concurrent run: `OtherRunRunning`, not a wait.
- `RunStop` turns SIGTERM (what `timeout`, systemd and CI cancels send) and SIGINT into a clean
  stop: Dagster's own interrupt handling (the run is marked failed, nothing after the current
  step runs), repeated until the run has ended, because the job's retry policy turns one
  interrupt inside a step into a retry of that step. Publish refuses to start once a stop was
  requested (`stop_requested`).
- `SlotWatch` says in one line when a step waits for a pool slot that another run holds (a run
  started from the UI, which carries no pid), and stops the run after POOL_WAIT_SECONDS.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from orchestration import settings

if TYPE_CHECKING:
    import dagster as dg

HOST_TAG = "ecom/host"
PID_TAG = "ecom/pid"
PID_START_TAG = "ecom/pid_start"  # the process's start time: pids are reused
SLOT_POLL_S = 2.0  # how often a waiting run looks at the pool again
INTERRUPT_EVERY_S = 1.0  # how often a requested stop interrupts the run again until it ends
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
T = TypeVar("T")

_stop_reason: str | None = None  # why the run executing in this process is stopping
_last_stop: str | None = None  # why the last run of this process stopped (None: it did not)


class OtherRunRunning(Exception):
    """Another pipeline run of this instance is in progress and its process is alive."""


def stop_requested() -> str | None:
    """Why the run executing in this process is stopping (a signal, a slot wait), else None."""
    return _stop_reason


def last_stop() -> str | None:
    """Why the last run of this process (`RunStop`) was stopped, None if it was not."""
    return _last_stop


# ------------------------------------------------------------------------------ processes


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state first), [] if unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return []


def process_start_time(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot), None if unknown."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else None


def process_tags() -> dict[str, str]:
    """The tags that tie a run to this process."""
    pid = os.getpid()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    started = process_start_time(pid)
    if started is not None:
        tags[PID_START_TAG] = started
    return tags


def process_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process a run's tags name is still running; None when the run carries no
    pid (started from the UI) or ran on another host (not checkable from here)."""
    pid_text = tags.get(PID_TAG)
    if not pid_text or not pid_text.isdigit() or tags.get(HOST_TAG) != socket.gethostname():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    fields = _proc_stat(pid)
    if fields and fields[0] == "Z":
        return False  # exited, not yet reaped
    expected = tags.get(PID_START_TAG)
    return expected is None or process_start_time(pid) == expected


# ------------------------------------------------------------------------------ stale runs


def _statuses(*names: str) -> list[dg.DagsterRunStatus]:
    import dagster as dg

    return [dg.DagsterRunStatus[name] for name in names]


def in_progress_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Runs of the instance not finished (NOT_STARTED: created by a process killed at once)."""
    import dagster as dg

    statuses = _statuses("NOT_STARTED", "STARTING", "STARTED", "CANCELING")
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=statuses)))


def fail_dead_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Mark `run`, whose process is gone, failed and free every pool slot it holds."""
    pid = run.tags.get(PID_TAG)
    instance.report_run_failed(
        run, f"The process of this run (pid {pid}) ended without finishing it (killed or crashed)."
    )
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def free_slots_of_ended_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free pool slots still held or waited for by runs that have ended (or are gone)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    infos = storage.get_concurrency_infos(list(storage.get_concurrency_keys()))
    holders = {slot.run_id for info in infos.values() for slot in info.claimed_slots}
    holders |= {step.run_id for info in infos.values() for step in info.pending_steps}
    ended = _statuses("SUCCESS", "FAILURE", "CANCELED")
    freed = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status in ended:
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


def recover(instance: dg.DagsterInstance, say: Callable[[str], None]) -> list[str]:
    """Before a run: fail the runs whose process died and free the slots they and any ended run
    hold (one line each); the ids of the runs failed.

    Raises OtherRunRunning for a run of this CLI whose process is still alive: two runs of the
    pipeline would only wait for each other's warehouse slot.
    """
    failed = []
    for run in in_progress_runs(instance):
        alive = process_alive(dict(run.tags))
        if alive is None or run.tags.get(PID_TAG) == str(os.getpid()):
            continue  # not started by this CLI here, or by this process: SlotWatch tells
        if alive:
            pid = run.tags[PID_TAG]
            raise OtherRunRunning(
                f"another pipeline run is in progress: run {run.run_id} (pid {pid}); "
                f"wait for it to end, or stop it (kill {pid}) and run again"
            )
        fail_dead_run(instance, run)
        failed.append(run.run_id)
        say(
            f"run {run.run_id[:8]} (pid {run.tags[PID_TAG]}) was killed before it ended: "
            "marked failed, its warehouse slot freed"
        )
    free_slots_of_ended_runs(instance)
    return failed


# ------------------------------------------------------------------------------ stopping


class RunStop:
    """SIGTERM and SIGINT during a run become a clean stop of the run; `request` stops it too
    (SlotWatch). Entered in the main thread around `execute_in_process`, which runs through
    `call`; `logger_def` is a logger of the run that tells it which step is running.

    Dagster replaces the signal handlers while a run executes: inside a step an interrupt raises
    there (dagster-dbt forwards it to dbt) and the job's retry policy retries the step; between
    steps it is only recorded, and the in-process executor never looks at the record (a step
    waiting for a pool slot waits on). So every signal with a Python handler, Dagster's or ours,
    is also written to a wakeup fd (`signal.set_wakeup_fd`), read by a thread here: from the
    first SIGTERM or SIGINT on, it marks the run CANCELING and, every INTERRUPT_EVERY_S until the
    run has ended, sends SIGINT while a step runs, or raises KeyboardInterrupt in the main thread
    between steps, which Dagster turns into the run's end (CANCELED). Ours only records.
    """

    def __init__(self, say: Callable[[str], None], instance: dg.DagsterInstance) -> None:
        self.say = say
        self.instance = instance
        self.reason: str | None = None
        self.run_id: str | None = None
        self._lock = threading.Lock()
        self._steps: set[str] = set()  # running now
        self._over = False  # the run ended, or execute_in_process returned
        self._raised = False
        self._ended = threading.Event()
        self._fds: tuple[int, int] | None = None
        self._saved: dict[int, object] = {}
        self._saved_wakeup = -1
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunStop:
        global _stop_reason, _last_stop
        _stop_reason = _last_stop = None
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only: nothing to watch
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._fds = (read_fd, write_fd)
        self._saved = {signum: signal.signal(signum, self._record) for signum in STOP_SIGNALS}
        self._saved_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="run-stop", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        global _stop_reason, _last_stop
        self._quiet()
        self._ended.set()
        _stop_reason, _last_stop = None, self.reason
        if self._fds is None:
            return
        assert self._thread is not None
        self._thread.join()
        signal.set_wakeup_fd(self._saved_wakeup)
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        for fd in self._fds:
            os.close(fd)
        self._fds = None

    def _record(self, _signum: int, _frame: FrameType | None) -> None:
        """Our handler outside Dagster's: the wakeup fd already told the watching thread."""

    # -- the run's events

    def logger_def(self) -> dg.LoggerDefinition:
        """A Dagster logger that feeds the run's events to `observe`."""
        import logging

        import dagster as dg

        stop = self

        class Observer(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meta = getattr(record, "dagster_meta", None) or {}
                stop.observe(meta.get("run_id"), meta.get("dagster_event"))

        @dg.logger(description="which step runs, for a clean stop (orchestration/runguard.py)")
        def runguard_logger(_context: dg.InitLoggerContext) -> logging.Logger:
            logger = logging.Logger("orchestration.runguard", logging.DEBUG)
            logger.addHandler(Observer(logging.DEBUG))
            return logger

        return runguard_logger

    def observe(self, run_id: str | None, event: dg.DagsterEvent | None) -> None:
        """Track the running steps and the run's end from one event."""
        if event is None:
            return
        kind = event.event_type_value
        with self._lock:
            self.run_id = self.run_id or run_id
            if kind in ("STEP_START", "STEP_RESTARTED"):
                self._steps.add(event.step_key or "")
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY", "STEP_SKIPPED"):
                self._steps.discard(event.step_key or "")
            elif kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE", "PIPELINE_CANCELED"):
                self._over = True

    # -- stopping

    def call(self, execute: Callable[[], T]) -> T | None:
        """`execute()` (the run); None when the stop's KeyboardInterrupt ended it outside
        Dagster's handling (then `result_after_stop` reads the result from the instance)."""
        try:
            try:
                return execute()
            finally:
                self._quiet()
        except KeyboardInterrupt:
            if not self._raised:
                raise
            self._quiet()  # again: the interrupt may have cut the first one short
            return None

    def _quiet(self) -> None:
        """No interrupt from now on, and none pending."""
        with self._lock:
            self._over = True
            if self._raised:
                _set_async_exc(threading.main_thread(), None)

    def request(self, reason: str) -> None:
        """Stop the run: say why in one line, mark the run CANCELING, interrupt it until it
        ends."""
        global _stop_reason
        if self.reason is not None:
            return
        self.reason = _stop_reason = reason
        self.say(f"stopping: {reason}; no further step runs")

    def _watch(self) -> None:
        assert self._fds is not None
        read_fd = self._fds[0]
        canceling = False
        while not self._ended.is_set():
            ready, _, _ = select.select([read_fd], [], [], INTERRUPT_EVERY_S)
            if ready:
                for signum in os.read(read_fd, 64):
                    if signum in STOP_SIGNALS:
                        self.request(f"{signal.Signals(signum).name} received")
            if self.reason is None or self._ended.is_set():
                continue
            if not canceling and self.run_id is not None:
                canceling = self._mark_canceling()
            self._interrupt()
            self._ended.wait(INTERRUPT_EVERY_S)

    def _mark_canceling(self) -> bool:
        try:
            run = self.instance.get_run_by_id(self.run_id or "")
            if run is not None and not run.is_finished:
                self.instance.report_run_canceling(run, f"Stopping: {self.reason}.")
        except Exception:  # a busy SQLite file: the run ends failed instead of canceled
            return False
        return True

    def _interrupt(self) -> None:
        with self._lock:
            if self._over:
                return
            if self._steps or self.run_id is None:
                os.kill(os.getpid(), signal.SIGINT)  # Dagster's interrupt of a running step
            else:
                self._raised = True  # between steps: nobody would look at a recorded SIGINT
                _set_async_exc(threading.main_thread(), KeyboardInterrupt)


def _set_async_exc(thread: threading.Thread, exc: type[BaseException] | None) -> None:
    """Raise `exc` in `thread` at its next bytecode (None: forget a pending one); CPython's
    documented PyThreadState_SetAsyncExc."""
    import ctypes

    ident = ctypes.c_ulong(thread.ident or 0)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ident, ctypes.py_object(exc) if exc else None)


def result_after_stop(
    job: dg.JobDefinition, instance: dg.DagsterInstance, run_id: str
) -> dg.ExecuteInProcessResult:
    """The result of run `run_id`, stopped by `RunStop` outside Dagster's handling, read from
    the instance; marked CANCELED (its slots freed) if Dagster had no time to end it."""
    import dagster as dg

    run = instance.get_run_by_id(run_id)
    assert run is not None
    if not run.is_finished:
        instance.report_run_canceled(run, f"Stopped: {_stop_reason}.")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        run = instance.get_run_by_id(run_id)
        assert run is not None
    events = [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event]
    return dg.ExecuteInProcessResult(
        event_list=events, dagster_run=run, output_capture=None, job_def=job
    )


# ------------------------------------------------------------------------------ slot waits


@dataclass
class _Wait:
    since: float
    holder: str


class SlotWatch:
    """While this process's run executes: one line when one of its steps waits for a slot of
    the warehouse pool that another run holds, and a stop (`stop.request`) once it has waited
    POOL_WAIT_SECONDS. It only reads the instance (the pool's slots and waiting steps)."""

    def __init__(
        self, instance: dg.DagsterInstance, stop: RunStop, limit_s: float | None = None
    ) -> None:
        from orchestration.resources import WAREHOUSE_POOL

        self.instance = instance
        self.stop = stop
        self.pool = WAREHOUSE_POOL
        self.limit_s = settings.value("POOL_WAIT_SECONDS") if limit_s is None else limit_s
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="slot-watch", daemon=True)
        self._wait: _Wait | None = None

    def __enter__(self) -> SlotWatch:
        if self.instance.event_log_storage.supports_global_concurrency_limits:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ended.set()
        if self._thread.is_alive():
            self._thread.join()

    def _holder(self, run_id: str) -> str | None:
        """`run <id> (step <key>) holds the <pool> pool` while a step of `run_id` waits."""
        info = self.instance.event_log_storage.get_concurrency_info(self.pool)
        waiting = [s for s in info.pending_steps if s.run_id == run_id and not s.assigned_timestamp]
        others = [slot for slot in info.claimed_slots if slot.run_id != run_id]
        if not waiting or not others:
            return None
        return f"run {others[0].run_id} (step {others[0].step_key}) holds the {self.pool} pool"

    def _watch(self) -> None:
        while not self._ended.wait(SLOT_POLL_S):
            try:
                run_id = self.stop.run_id
                holder = self._holder(run_id) if run_id else None
            except Exception:  # a busy SQLite file: look again next time
                continue
            self.check(holder)

    def check(self, holder: str | None) -> None:
        """One line when a wait on `holder` begins; a stop once it lasted `limit_s`."""
        if holder is None:
            self._wait = None
            return
        if self._wait is None or self._wait.holder != holder:
            self._wait = _Wait(time.monotonic(), holder)
            self.stop.say(f"waiting: {holder}; giving up after {self.limit_s:.0f}s")
        elif time.monotonic() - self._wait.since > self.limit_s:
            self.stop.request(f"waited {self.limit_s:.0f}s for a pool slot: {holder}")
