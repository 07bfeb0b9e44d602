"""`make ui` from a plain shell: the Dagster UI loads the code location and stops cleanly.

The UI is started exactly as a user starts it, `make ui PORT=<free port>`, with a PATH that has
no venv (and no other dbt) on it: `dagster dev`, the code server it spawns and dagster-dbt must
find the venv's executables by themselves. Everything is then read through the webserver's
GraphQL API, and Ctrl-C (SIGINT to the process group) must end every process `make ui` started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCATION = "ecom_warehouse"
LOAD_TIMEOUT = 180.0
STOP_TIMEOUT = 45.0

# Where a `dbt` may stay on the test's PATH: the operating system's own folders.
SYSTEM_BIN_DIRS = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}
# The layers of the asset graph, upstream to downstream (each has assets with checks), and
# assets that must be there with their checks.
LAYERS = ("raw", "staging", "intermediate", "marts", "serving")
KNOWN_KEYS = ("raw/orders", "marts/daily_sales", "serving/marts")

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name } }
          ... on PythonError { message stack causes { message } }
        }
      }
    }
    ... on PythonError { message stack }
  }
}
"""

ASSETS_QUERY = """
query Assets {
  assetNodes {
    assetKey { path }
    hasAssetChecks
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name } }
    }
  }
}
"""


def terminal_signals() -> None:
    """SIGINT and SIGTERM as a terminal's shell leaves them: default action, none blocked."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def plain_shell_path() -> str:
    """This process's PATH without any venv's bin and without any non-system folder that has a
    `dbt` (or dbt Fusion's `dbtf`): what a shell without an activated venv sees."""
    kept = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        folder = Path(entry)
        if folder.name == "bin" and (folder.parent / "pyvenv.cfg").exists():
            continue  # a virtualenv's bin (.venv/bin or any other)
        if ".venv" in folder.parts:
            continue
        has_dbt = any((folder / name).exists() for name in ("dbt", "dbtf"))
        if has_dbt and os.path.realpath(folder) not in SYSTEM_BIN_DIRS:
            continue
        kept.append(entry)
    return os.pathsep.join(kept)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    sid: int
    starttime: int  # clock ticks since boot: tells a pid apart from a later reuse
    cmdline: str


def read_proc(pid: int) -> Proc | None:
    """/proc/<pid>/stat of a live process; None when it is gone or a zombie (already dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw_cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid pgrp session ... starttime(22nd field)"; comm may hold spaces
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    cmdline = raw_cmd.replace(b"\0", b" ").decode(errors="replace").strip()
    return Proc(pid, int(fields[1]), int(fields[3]), int(fields[19]), cmdline)


def environ(pid: int) -> dict[str, str] | None:
    """The environment a process started with; None when it has ended."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def all_procs() -> list[Proc]:
    procs = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            proc = read_proc(int(entry.name))
            if proc is not None:
                procs.append(proc)
    return procs


def started_by(root: int) -> dict[int, Proc]:
    """Every live process of `root`'s session, and every descendant of `root` (in case one
    started a session of its own)."""
    procs = all_procs()
    found = {p.pid: p for p in procs if p.sid == root or p.pid == root}
    children: dict[int, list[Proc]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.pid not in found:
                found[child.pid] = child
                todo.append(child.pid)
    return found


def still_alive(procs: dict[int, Proc]) -> list[Proc]:
    alive = []
    for proc in procs.values():
        now = read_proc(proc.pid)
        if now is not None and now.starttime == proc.starttime:
            alive.append(now)
    return alive


def post_graphql(port: int, query: str, timeout: float) -> dict[str, Any]:
    """The JSON answer of the webserver's GraphQL endpoint: `data` and maybe `errors`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def graphql(port: int, query: str, timeout: float = 60.0) -> dict[str, Any]:
    body = post_graphql(port, query, timeout)
    assert not body.get("errors"), f"GraphQL errors: {body['errors']}"
    return body["data"]


def tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


@dataclass
class Ui:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    docs_port: int
    seen: dict[int, Proc] = field(default_factory=dict)  # every process seen started by it


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    path = plain_shell_path()
    dbt = shutil.which("dbt", path=path)
    assert dbt is None or os.path.dirname(os.path.realpath(dbt)) in SYSTEM_BIN_DIRS, dbt
    env = {
        name: value
        for name, value in os.environ.items()
        # not in a plain shell: an activated venv, the `make` this test may run under
        if name not in ("VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    docs_port = free_port()
    env.update(
        GX_DOCS_URL=f"http://127.0.0.1:{docs_port}",
        PATH=path,
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        WAREHOUSE_PATH=str(tmp_path / "warehouse.duckdb"),
        SERVING_DIR=str(tmp_path / "serving"),
        GX_DOCS_DIR=str(tmp_path / "docs"),
        LANDING_DIR=str(tmp_path / "landing"),
    )
    (tmp_path / "landing").mkdir()
    port = free_port()
    log = tmp_path / "make_ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "ui", f"PORT={port}"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Ctrl-C as in a terminal: a shell that started us in the background (nohup, `&` in
            # a script) hands its children an ignored SIGINT, which the UI would inherit.
            preexec_fn=terminal_signals,
        )
    started = Ui(proc, port, log, docs_port)
    try:
        yield started
    finally:
        # never leak: whatever the test left running, SIGKILL it
        leftovers = {**started.seen, **started_by(proc.pid)}
        for leftover in still_alive(leftovers):
            try:
                os.kill(leftover.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_for_location(ui: Ui) -> dict[str, Any]:
    """The workspace entry of LOCATION once it has loaded (or failed to)."""
    deadline = time.monotonic() + LOAD_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if ui.proc.poll() is not None:
            pytest.fail(f"`make ui` exited with {ui.proc.returncode}:\n{tail(ui.log)}")
        try:
            body = post_graphql(ui.port, WORKSPACE_QUERY, timeout=10)
        except (OSError, ValueError) as exc:  # not listening yet, or no JSON answer yet
            last = repr(exc)
        else:
            workspace = (body.get("data") or {}).get("workspaceOrError")
            if body.get("errors") or workspace is None:
                last = f"GraphQL errors: {body.get('errors')}"
            elif workspace["__typename"] != "Workspace":
                last = f"{workspace['__typename']}: {workspace.get('message')}"
            else:
                entries = {e["name"]: e for e in workspace["locationEntries"]}
                entry = entries.get(LOCATION)
                if entry is None:
                    last = f"locations: {sorted(entries)}"
                elif entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"]:
                    return entry
                else:
                    last = f"{LOCATION}: {entry['loadStatus']}"
        time.sleep(2)
    pytest.fail(f"no loaded {LOCATION} within {LOAD_TIMEOUT:.0f}s ({last}):\n{tail(ui.log)}")


def test_make_ui_loads_the_code_location_and_stops_on_ctrl_c(ui: Ui) -> None:
    entry = wait_for_location(ui)
    loaded = entry["locationOrLoadError"]
    if loaded["__typename"] == "PythonError":
        # the message says where loading failed; the causes say why
        error = "\n".join([loaded["message"], *(cause["message"] for cause in loaded["causes"])])
        print(f"code location {LOCATION} failed to load:\n{error}\n{''.join(loaded['stack'])}")
        pytest.fail(f"code location {LOCATION} failed to load:\n{error}")
    assert loaded["__typename"] == "RepositoryLocation", loaded["__typename"]
    assert loaded["repositories"], "the code location holds no repository"

    out = ui.log.read_text(errors="replace")
    assert f"http://127.0.0.1:{ui.port}" in out, "make ui did not print the UI's URL"
    # the Data Docs, which the checks' metadata links, are served beside the UI
    (docs_dir := ui.log.parent / "docs").mkdir(exist_ok=True)
    (docs_dir / "index.html").write_text("<html><body>data docs</body></html>")
    with urllib.request.urlopen(f"http://127.0.0.1:{ui.docs_port}/index.html", timeout=10) as r:
        assert r.status == 200 and b"data docs" in r.read()

    nodes = graphql(ui.port, ASSETS_QUERY)["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    for layer in LAYERS:
        in_layer = [key for key in keys if key.split("/")[0] == layer]
        assert in_layer, f"no {layer}/... asset in the UI's asset graph: {sorted(keys)}"
        checked = [key for key in in_layer if keys[key]["hasAssetChecks"]]
        assert checked, f"no {layer}/... asset has asset checks"
    assert any(key.startswith("staging/stg_") for key in keys)
    assert any(key.startswith("intermediate/int_") for key in keys)
    for key in KNOWN_KEYS:
        assert key in keys, f"{key} is not in the UI's asset graph"
        node = keys[key]
        assert node["hasAssetChecks"], f"{key} has no asset checks"
        checks = node["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", f"{key}: {checks['__typename']}"
        assert checks["checks"], f"{key}: no asset checks listed"

    # Ctrl-C in the terminal: SIGINT to the whole process group
    started = started_by(ui.proc.pid)
    ui.seen.update(started)
    commands = [proc.cmdline for proc in started.values()]
    for part in ("dagster dev", "dagster_webserver", "dagster._daemon", "dagster code-server"):
        assert any(part in command for command in commands), f"no `{part}` in {commands}"
    # the Makefile put the venv's bin first on PATH for dagster dev and what it spawns
    venv_bin = str(REPO / ".venv" / "bin")
    for proc in started.values():
        env = environ(proc.pid) if "dagster" in proc.cmdline else None
        if env is not None:
            path = env.get("PATH", "")
            assert path.split(os.pathsep)[0] == venv_bin, f"{proc.cmdline}: PATH={path}"
    os.killpg(ui.proc.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    alive = still_alive(started)
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        ui.proc.poll()  # reap make itself
        ui.seen.update(started_by(ui.proc.pid))  # and whatever the shutdown started
        alive = still_alive(ui.seen)
    stopped_in = STOP_TIMEOUT - (deadline - time.monotonic())
    print(f"SIGINT: {len(ui.seen)} processes, {len(alive)} left after {stopped_in:.1f}s")
    left = {p.pid: p.cmdline for p in still_alive(ui.seen)}
    assert not left, f"still running {STOP_TIMEOUT:.0f}s after SIGINT: {left}\n{tail(ui.log)}"
    assert ui.proc.poll() is not None
