"""A `pipeline` run killed with `kill -9` at any stage, or stopped with SIGTERM, leaves nothing
behind that hurts the next run (orchestration/runguard.py, docs/operations.md "Crashes and
stops").

Every run is the real CLI in a subprocess of its own session, over one tiny generated landing,
in a real Dagster instance and real DuckDB files under the test's temp dir. A run is killed when
its progress reaches a stage (a STEP_START in the instance's event log; for publish, its staging
folder on disk). The next run of the same range must finish, publish the same marts as an
uninterrupted run, and leave no staging file; no process of the killed run may survive it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import cli, runguard, settings
from orchestration.resources import WAREHOUSE_POOL
from orchestration.sample import generate
from orchestration.serving import current_version
from tests.conftest import ISOLATED_PATHS

RUN_TIMEOUT_S = 600  # a run that waits forever for a dead run's slot fails here
STAGE_TIMEOUT_S = 300
GRACE_S = 5.0  # how long a killed run's processes may take to notice and end


@dataclass
class Place:
    """The paths of one sequence of runs (landing shared, the rest its own)."""

    root: Path
    env: dict[str, str]

    def path(self, name: str) -> Path:
        return Path(self.env[name])

    @property
    def serving(self) -> Path:
        return self.path("SERVING_DIR")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash_landing")
    generate(root, scale=0.002, seed=7, days=14, start=date(2025, 1, 1))
    return root


def new_place(root: Path, landing: Path) -> Place:
    """Own paths under `root`, the shared landing, an empty deployment file and `.env`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "warehouse.yaml").write_text("# empty: the defaults\n")
    (root / "dotenv").write_text("# empty: the environment and the defaults\n")
    unset = ("VERBOSE", "DBT_VARS", "SPARK_RAW_DIR", "PYTHONWARNINGS")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env.update({name: str(root / relative) for name, relative in ISOLATED_PATHS.items()})
    env.update(
        LANDING_DIR=str(landing),
        WAREHOUSE_CONFIG=str(root / "warehouse.yaml"),
        WAREHOUSE_ENV_FILE=str(root / "dotenv"),
    )
    home = root / ISOLATED_PATHS["DAGSTER_HOME"]
    home.mkdir()
    shutil.copyfile(cli.DAGSTER_YAML, home / "dagster.yaml")
    return Place(root, env)


def start(place: Place) -> subprocess.Popen[str]:
    """`cli pipeline` in a session of its own (its pid is the session and group id)."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "pipeline"],
        env=place.env,
        cwd=settings.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run_to_end(place: Place) -> tuple[int, str]:
    process = start(place)
    try:
        out, _ = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"the run did not end in {RUN_TIMEOUT_S}s:\n{out}")
    return process.returncode, out


@pytest.fixture
def instance_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Place], dg.DagsterInstance]]:
    """The persistent instance of a place, as the CLI opens it (the event log storage finds its
    folder through DAGSTER_HOME)."""
    opened: list[dg.DagsterInstance] = []

    def open_instance(place: Place) -> dg.DagsterInstance:
        home = place.path("DAGSTER_HOME")
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        instance = dg.DagsterInstance.from_config(str(home))
        opened.append(instance)
        return instance

    yield open_instance
    for instance in opened:
        instance.dispose()


def session_processes(sid: int) -> list[str]:
    """The live (not zombie) processes of session `sid`: `<pid> <command line>`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[-1].split()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(f"{proc.name} {command}")
    return found


def survivors_after_grace(sid: int) -> list[str]:
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        if not session_processes(sid):
            return []
        time.sleep(0.2)
    return session_processes(sid)


def comparable(row: tuple) -> str:
    """A row as text, floats to 9 decimals: an average's last bits depend on the order DuckDB's
    threads add up its values, which differs from run to run."""
    return repr(tuple(round(value, 9) if isinstance(value, float) else value for value in row))


def published_marts(serving: Path) -> dict[str, list[str]]:
    """Every mart of the published serving file, its rows sorted (the publish log left out)."""
    conn = duckdb.connect(str(serving / "serving.duckdb"), read_only=True)
    try:
        names = conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and not starts_with(table_name, '_') order by 1"
        ).fetchall()
        return {
            name: sorted(map(comparable, conn.execute(f'select * from marts."{name}"').fetchall()))
            for (name,) in names
        }
    finally:
        conn.close()


def leftover_temporaries(serving: Path) -> list[Path]:
    return sorted(serving.rglob("*.tmp"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, landing: Path) -> dict:
    place = new_place(tmp_path_factory.mktemp("crash_baseline"), landing)
    code, out = run_to_end(place)
    assert code == 0, out
    return published_marts(place.serving)


def wait_for_step(
    instance: dg.DagsterInstance, process: subprocess.Popen[str], prefix: str
) -> None:
    """Until a step whose key starts with `prefix` has started in a run that is not finished."""
    deadline = time.monotonic() + STAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before the step started"
        for run in instance.get_runs(limit=1):
            if run.is_finished:
                continue
            started = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            if any(entry.step_key.startswith(prefix) for entry in started):
                return
        time.sleep(0.1)
    pytest.fail(f"no step {prefix}* started in {STAGE_TIMEOUT_S}s")


def wait_for_staging(serving: Path, process: subprocess.Popen[str]) -> None:
    """Until publish has created its staging folder."""
    deadline = time.monotonic() + STAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before publish staged its version"
        if list((serving / "versions").glob(".v*.tmp")):
            return
        time.sleep(0.02)
    pytest.fail(f"publish staged nothing in {STAGE_TIMEOUT_S}s")


# (stage, step key prefix, kill the whole process group or the run's process only)
KILL_POINTS = [
    ("ingest", "raw__", True),
    ("gx", "gx_raw__", True),
    ("dbt", "dbt_models", False),  # its dbt process must follow it (assets/dbt_child.sh)
    ("publish", None, True),
]


@pytest.mark.parametrize(
    ("stage", "prefix", "whole_group"), KILL_POINTS, ids=[point[0] for point in KILL_POINTS]
)
def test_a_run_killed_at_any_stage_leaves_nothing_the_next_run_trips_on(
    tmp_path: Path,
    landing: Path,
    uninterrupted: dict,
    instance_of: Callable[[Place], dg.DagsterInstance],
    stage: str,
    prefix: str | None,
    whole_group: bool,
) -> None:
    place = new_place(tmp_path / "place", landing)
    instance = instance_of(place)
    process = start(place)
    try:
        if prefix is None:
            wait_for_staging(place.serving, process)
        else:
            wait_for_step(instance, process, prefix)
        if whole_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        survivors = survivors_after_grace(process.pid)
    finally:
        if process.poll() is None or session_processes(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
    assert not survivors, f"processes of the run killed at {stage} still alive: {survivors}"
    (killed,) = instance.get_runs()
    assert killed.status == dg.DagsterRunStatus.STARTED  # as a kill -9 leaves it

    code, out = run_to_end(place)

    assert code == 0, out
    assert f"run {killed.run_id[:8]} (pid {process.pid}) was killed" in out, out
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not leftover_temporaries(place.serving)
    assert published_marts(place.serving) == uninterrupted
    pool = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    assert not pool.claimed_slots and not pool.pending_steps


def test_sigterm_stops_the_run_and_publishes_nothing(
    tmp_path: Path,
    landing: Path,
    uninterrupted: dict,
    instance_of: Callable[[Place], dg.DagsterInstance],
) -> None:
    place = new_place(tmp_path / "place", landing)
    instance = instance_of(place)
    code, out = run_to_end(place)
    assert code == 0, out
    before = current_version(place.serving)

    process = start(place)
    try:
        wait_for_step(instance, process, "dbt_models")
        os.kill(process.pid, signal.SIGTERM)  # what `timeout` and a CI cancel send
        out, _ = process.communicate(timeout=RUN_TIMEOUT_S)
        survivors = survivors_after_grace(process.pid)
    finally:
        if process.poll() is None or session_processes(process.pid):
            os.killpg(process.pid, signal.SIGKILL)

    assert process.returncode != 0, out
    assert "STOP  SIGTERM received: the run was stopped (nothing published)" in out, out
    assert not survivors, survivors
    assert current_version(place.serving) == before
    assert not leftover_temporaries(place.serving)
    stopped = instance.get_runs(limit=1)[0]
    assert stopped.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
    not_run = instance.all_logs(stopped.run_id, of_type=dg.DagsterEventType.STEP_START)
    assert not [entry for entry in not_run if entry.step_key.startswith("serving__")]

    code, out = run_to_end(place)  # and the next run carries on from there
    assert code == 0, out
    assert current_version(place.serving) == (before or 0) + 1
    assert published_marts(place.serving) == uninterrupted


def test_a_live_run_of_the_pipeline_is_reported_not_waited_for(
    tmp_path: Path,
    landing: Path,
    instance_of: Callable[[Place], dg.DagsterInstance],
) -> None:
    """A run tagged with a live process of this host (here: a `sleep`) is another run in
    progress: the CLI says so on one line and exits 2 at once, without waiting for its slot."""
    place = new_place(tmp_path / "place", landing)
    instance = instance_of(place)
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        stat = Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[-1].split()
        tags = {**runguard.process_tags(), runguard.PID_TAG: str(sleeper.pid)}
        tags[runguard.PID_START_TAG] = stat[19]  # its start time, as process_tags reads it
        other = instance.create_run_for_job(
            job_def=dg.GraphDefinition("other", node_defs=[]).to_job(), tags=tags
        )
        instance.report_run_canceling(other)  # in progress, as a live run is
        code, out = run_to_end(place)
    finally:
        sleeper.kill()
        sleeper.wait()
    lines = [line for line in out.splitlines() if line.startswith("error:")]
    assert code == 2, out
    assert len(lines) == 1 and other.run_id in lines[0] and str(sleeper.pid) in lines[0], out


def test_a_step_waiting_for_another_runs_slot_says_so_and_gives_up(
    tmp_path: Path,
    landing: Path,
    instance_of: Callable[[Place], dg.DagsterInstance],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run started elsewhere (the UI: no pid to check) holds the warehouse pool's only slot:
    the pipeline, run in this process, says on one line which run holds it, and after the wait
    limit (shortened here) stops, publishing nothing."""
    place = new_place(tmp_path / "place", landing)
    instance = instance_of(place)
    for name in ("LANDING_DIR", "WAREHOUSE_PATH", "SERVING_DIR", "GX_DOCS_DIR"):
        monkeypatch.setenv(name, place.env[name])
    holder = instance.create_run_for_job(
        job_def=dg.GraphDefinition("from_the_ui", node_defs=[]).to_job()
    )
    instance.report_run_canceling(holder)  # in progress
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    assert storage.claim_concurrency_slot(WAREHOUSE_POOL, holder.run_id, "its_step").is_claimed
    monkeypatch.setenv("POOL_WAIT_SECONDS", "3")

    report = cli.run_pipeline(instance=instance, verbose=False)

    out = capsys.readouterr().out
    waiting = [line for line in out.splitlines() if line.startswith("waiting:")]
    assert waiting == [
        f"waiting: run {holder.run_id} (step its_step) holds the {WAREHOUSE_POOL} pool; "
        "giving up after 3s"
    ], out
    assert not report.ok
    assert "STOP  waited 3s for a pool slot" in out, out
    assert runguard.stop_requested() is None  # a later run of this process may publish
    assert instance.get_run_by_id(report.run_id).status in (
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.CANCELED,
    )
    assert current_version(place.serving) is None
