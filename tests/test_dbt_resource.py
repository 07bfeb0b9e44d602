"""The dbt resource is dagster-dbt's own `DbtCliResource`. Its executable runs the venv's dbt, and
where `setpriv` exists that dbt dies with the process that started it (a run killed with
`kill -9` leaves no dbt writing its warehouse)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource
from dbt import version as dbt_version

from orchestration import runguard
from orchestration.assets.dbt import DBT_CHILD, VENV_DBT, dbt_resource


def test_the_dbt_resource_is_dagster_dbts_own() -> None:
    resource = dbt_resource()
    assert type(resource) is DbtCliResource
    assert resource.dbt_executable in (str(DBT_CHILD), str(VENV_DBT))


def test_the_executable_runs_the_venvs_dbt() -> None:
    env = {**os.environ, "WAREHOUSE_DBT": str(VENV_DBT), "PATH": "/usr/bin:/bin"}
    command = [dbt_resource().dbt_executable, "--help"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "Usage: dbt" in done.stdout, done.stdout


def test_the_executable_answers_version_without_asking_pypi() -> None:
    # dagster-dbt asks `--version` before each build; dbt's own answer looks up PyPI.
    env = {**os.environ, "WAREHOUSE_DBT": str(VENV_DBT), "PATH": "/usr/bin:/bin"}
    command = [dbt_resource().dbt_executable, "--version"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == dbt_version.__version__


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_the_dbt_child_dies_with_its_parent() -> None:
    # A parent that starts DBT_CHILD with `sleep` in the place of dbt, then is killed.
    script = "import subprocess, sys, time\np = subprocess.Popen([sys.argv[1], '60'])\n"
    script += "print(p.pid, flush=True)\ntime.sleep(60)\n"
    env = {**os.environ, "WAREHOUSE_DBT": "sleep"}
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(DBT_CHILD)], env=env, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    tags = {runguard.HOST_TAG: socket.gethostname(), runguard.PID_TAG: str(child)}
    cmdline = Path(f"/proc/{child}/cmdline")
    while not cmdline.read_bytes().startswith(b"sleep"):  # until setpriv has set it up
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while runguard.process_alive(tags) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not runguard.process_alive(tags)
