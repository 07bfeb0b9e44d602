"""Crashes and stops of `cli pipeline` runs (docs/operations.md, "Crashes and stops").

A killed run harms no data (DuckDB writes are atomic, a publish is renames) but stays STARTED
holding its pool slot: `recover` fails the runs whose process (tagged on the run) is gone and
frees ended runs' slots. SIGTERM and SIGINT stop a run like a tidier kill (`RunStop`)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import dagster as dg

HOST_TAG = "ecom/host"
PID_TAG = "ecom/pid"
PID_START_TAG = "ecom/pid_start"  # the process's start time: pids are reused
POLL_S = 1.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
IN_PROGRESS = [dg.DagsterRunStatus[s] for s in ("NOT_STARTED", "STARTING", "STARTED", "CANCELING")]

# Held by publish while it writes: a stop lets a publish in progress finish, and none starts after.
PUBLISHING = threading.Lock()
_stop_reason: str | None = None


class OtherRunRunning(Exception):
    """Another pipeline run of this instance is in progress and its process is alive."""


def stop_requested() -> str | None:
    """Why the run executing in this process is stopping, else None."""
    return _stop_reason


def _proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (state first), [] if unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return []


def process_tags() -> dict[str, str]:
    """This process's host, pid and start time (clock ticks since boot, when known)."""
    fields = _proc_stat(os.getpid())
    start = {PID_START_TAG: fields[19]} if fields else {}
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), **start}


def process_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process named by a run's tags runs; None: no pid (a UI run) or another host."""
    pid_text = tags.get(PID_TAG, "")
    if not pid_text.isdigit() or tags.get(HOST_TAG) != socket.gethostname():
        return None
    fields = _proc_stat(int(pid_text))
    if not fields or fields[0] == "Z":
        return False
    return tags.get(PID_START_TAG, fields[19]) == fields[19]  # no start time tagged: alive


def recover(instance: dg.DagsterInstance, say: Callable[[str], None]) -> None:
    """Fail the runs whose process died, free ended runs' slots; OtherRunRunning if one lives."""
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        alive = process_alive(dict(run.tags))
        pid = run.tags.get(PID_TAG)
        if alive is None or pid == str(os.getpid()):
            continue  # not started by this CLI here, or by this very process
        if alive:
            raise OtherRunRunning(
                f"another pipeline run is in progress: run {run.run_id} (pid {pid}); "
                f"wait for it to end, or stop it (kill {pid}) and run again"
            )
        instance.report_run_failed(run, f"The process of this run (pid {pid}) ended early.")
        say(f"run {run.run_id[:8]} (pid {pid}) was killed before it ended: marked failed")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        infos = storage.get_concurrency_infos(list(storage.get_concurrency_keys())).values()
        holders = {s.run_id for info in infos for s in [*info.claimed_slots, *info.pending_steps]}
        for run_id in holders:
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)


def wait_for_pool(
    instance: dg.DagsterInstance, pool: str, say: Callable[[str], None], limit_s: float
) -> str | None:
    """Wait while another run holds `pool`; after `limit_s`, the reason to stop instead."""
    storage = instance.event_log_storage
    deadline, told = time.monotonic() + limit_s, None
    while storage.supports_global_concurrency_limits:
        claimed = storage.get_concurrency_info(pool).claimed_slots
        if not claimed:
            break
        holder = f"run {claimed[0].run_id} (step {claimed[0].step_key})"
        if holder != told:
            say(f"waiting: {holder} holds the {pool} pool; giving up after {limit_s:.0f}s")
            told = holder
        if time.monotonic() > deadline:
            return f"waited {limit_s:.0f}s for a pool slot: {holder} holds it"
        time.sleep(POLL_S)
    return None


def cancel(instance: dg.DagsterInstance, run_id: str, reason: str) -> None:
    """Stop run `run_id`: no publish starts from now on, the run is canceled, its slots freed."""
    global _stop_reason
    with PUBLISHING:
        _stop_reason = reason
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, f"Stopped: {reason}.")
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


class RunStop:
    """SIGTERM and SIGINT only record a stop, which `wait` returns (Dagster's own handling
    would turn the interrupt of a step into a retry)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._saved: dict[int, object] = {}

    def __enter__(self) -> RunStop:
        global _stop_reason
        _stop_reason = None
        if threading.current_thread() is threading.main_thread():
            self._saved = {signum: signal.signal(signum, self._record) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        # _stop_reason stays: the stopped run's thread must not publish before the process ends
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.reason = self.reason or f"{signal.Signals(signum).name} received"

    def wait(self, thread: threading.Thread) -> str | None:
        """Until `thread` ends (None) or a stop signal came (its reason)."""
        while thread.is_alive() and self.reason is None:
            thread.join(POLL_S / 4)
        return self.reason
