"""The warm dbt process (orchestration/dbt_warm.py): a real server started by this process, the
real `dbt-warm` client as dagster-dbt spawns it, and the plain `dbt` CLI as the reference."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import skip_or_fail

from orchestration import dbt_warm, settings
from orchestration.assets.dbt import dbt_cli_args, dbt_executable

PROJECT = settings.DBT_PROJECT_DIR
CLIENT = Path(dbt_executable())
MODELS = ["ls", "--resource-type", "model", "--select", "marts.sales", "--output", "name"]


@pytest.fixture(autouse=True)
def _warm_client_installed() -> None:
    """`make install` installs the package's console scripts; without them (an environment that
    did not install the package) there is no client to test: skipped, and under CI a failure."""
    if CLIENT.name != dbt_warm.CLIENT_SCRIPT:
        skip_or_fail("console scripts not installed (make install)")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment dagster-dbt gives dbt: its own target folder, the project's folders."""
    return {
        **os.environ,
        "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "DBT_PROJECT_DIR": str(PROJECT),
        "DBT_PROFILES_DIR": str(PROJECT),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "target"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def start_server(
    env: dict[str, str], parse_argv: list[str] | None = None
) -> dbt_warm.WarmDbtServer:
    argv = parse_argv or [*dbt_cli_args(command="parse"), "--target", "duckdb"]
    server_env = {**env, "DBT_WARM_PROJECT_TARGET": str(PROJECT / "target")}
    return dbt_warm.WarmDbtServer.start(dbt_warm.ServerSpec(tuple(argv), server_env, PROJECT))


def run(
    executable: Path | str, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(executable), *args], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300
    )


def names(output: str) -> list[str]:
    return sorted(line for line in output.splitlines() if line and " " not in line)


def test_the_server_runs_the_command_with_its_parse_and_exits(env: dict[str, str]) -> None:
    server = start_server(env)
    try:
        warm = run(CLIENT, [*MODELS, "--target", "duckdb"], env)
        server.process.wait(timeout=60)  # one command, then it is done
        log = server.log_tail(50)
    finally:
        server.stop()
    cold = run(dbt_warm.real_dbt(), [*MODELS, "--target", "duckdb"], env)
    assert warm.returncode == cold.returncode == 0, warm.stderr + warm.stdout
    assert names(warm.stdout) == names(cold.stdout) and "daily_sales" in names(warm.stdout)
    assert "running dbt ls" in log and "not reusing" not in log, log
    assert server.process.returncode == 0
    assert not dbt_warm.socket_path(os.getpid()).exists()


def test_other_parse_inputs_make_the_command_parse_itself(env: dict[str, str]) -> None:
    server = start_server(env)
    other_vars = json.dumps({"business_timezone": "UTC"})
    try:
        warm = run(CLIENT, [*MODELS, "--target", "duckdb", "--vars", other_vars], env)
        server.process.wait(timeout=60)
        log = server.log_tail(50)
    finally:
        server.stop()
    assert warm.returncode == 0, warm.stderr + warm.stdout
    assert "daily_sales" in names(warm.stdout)
    assert "not reusing the parse: option --vars differ" in log, log


@pytest.mark.parametrize(
    "args",
    [
        # a model fails (the warehouse has no raw tables): 1
        ["build", "--select", "stg_shop__orders", "--target", "duckdb"],
        # dbt itself fails (a usage error): 2
        ["ls", "--no-such-option", "--target", "duckdb"],
    ],
    ids=["model-error", "usage-error"],
)
def test_exit_codes_are_dbts(env: dict[str, str], args: list[str]) -> None:
    cold = run(dbt_warm.real_dbt(), args, env)
    server = start_server(env)
    try:
        warm = run(CLIENT, args, env)
        server.process.wait(timeout=60)
        log = server.log_tail(50)
    finally:
        server.stop()
    assert cold.returncode in (1, 2), cold.stdout + cold.stderr
    assert warm.returncode == cold.returncode, warm.stdout + warm.stderr
    assert f"running dbt {args[0]}" in log, log


def test_commands_without_a_manifest_and_clients_without_a_server_run_dbt(
    env: dict[str, str],
) -> None:
    assert "installed" in run(CLIENT, ["--version"], env).stdout  # no server: plain dbt
    server = start_server(env)
    try:
        version = run(CLIENT, ["--version"], env)  # declined: plain dbt, server keeps waiting
        assert server.process.poll() is None
    finally:
        code = server.stop()
    assert "installed" in version.stdout
    assert code == -signal.SIGTERM  # stopped unused
    assert not dbt_warm.socket_path(os.getpid()).exists()


def test_an_unused_server_exits_when_its_starter_does(env: dict[str, str], tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    starter = (
        "import sys; from pathlib import Path; from orchestration import dbt_warm\n"
        f"spec = dbt_warm.ServerSpec(('parse',), {env!r}, Path({str(PROJECT)!r}))\n"
        "s = dbt_warm.WarmDbtServer.start(spec)\n"
        f"Path({str(pid_file)!r}).write_text(str(s.process.pid))\n"
        "import os; os._exit(0)  # no stop(): the server's stdin closes with this process\n"
    )
    subprocess.run([os.sys.executable, "-c", starter], cwd=settings.REPO_ROOT, check=True)
    pid = int(pid_file.read_text())
    for _ in range(600):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return  # exited; waits for init to reap it
        import time

        time.sleep(0.1)
    pytest.fail(f"the orphaned server {pid} is still running")


def test_parse_options_and_command_of_read_dbt_arguments() -> None:
    argv = ["--no-use-colors", "build", "-t", "duckdb", "--vars={}", "--select", "fqn:*"]
    assert dbt_warm.command_of(argv) == "build"
    assert dbt_warm.command_of(["--log-format", "json", "ls"]) == "ls"
    assert dbt_warm.command_of(["--version"]) is None
    assert dbt_warm.parse_options(argv) == {"--target": "duckdb", "--vars": "{}"}


def test_parse_inputs_see_edited_files_and_env(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "target").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1")
    env = {"DBT_PROJECT_DIR": str(tmp_path), "WAREHOUSE_PATH": "/a.duckdb"}
    before = dbt_warm.ParseInputs.of(["build"], env, tmp_path, {"WAREHOUSE_PATH"})
    (tmp_path / "target" / "run_results.json").write_text("{}")  # artifacts do not count
    assert (
        before.differences(dbt_warm.ParseInputs.of(["ls"], env, tmp_path, {"WAREHOUSE_PATH"})) == []
    )
    model.write_text("select 2 as changed")
    other_env = {**env, "WAREHOUSE_PATH": "/b.duckdb"}
    after = dbt_warm.ParseInputs.of(["build"], other_env, tmp_path, {"WAREHOUSE_PATH"})
    assert before.differences(after) == ["env WAREHOUSE_PATH", "project files"]


def test_the_pipeline_starts_the_server_its_dbt_resource_would() -> None:
    # `pipeline` starts the server before it imports Dagster (dbt_warm.pipeline_spec); the run's
    # dbt resource adopts it only for the same parse, so both must describe the same one.
    from orchestration.assets.dbt import dbt_resource

    resource = dbt_resource()
    spec = dbt_warm.server_spec(
        resource.dbt_executable,
        resource.project_dir,
        resource.profiles_dir,
        resource.target,
        resource.profile,
        settings.dbt_vars_args(),
    )
    early = dbt_warm.pipeline_spec()
    assert spec is not None and early is not None
    assert (early.parse_argv, early.cwd) == (spec.parse_argv, spec.cwd)
    assert early.env["WAREHOUSE_PATH"] == spec.env["WAREHOUSE_PATH"]


def test_the_resource_adopts_the_early_server_of_the_same_parse(env: dict[str, str]) -> None:
    spec = dbt_warm.ServerSpec(("parse", "--target", "duckdb"), env, PROJECT)
    dbt_warm.start_early(spec)
    early = dbt_warm._early
    assert early is not None
    try:
        adopted = dbt_warm.WarmDbtServer.start_or_adopt(spec)
        assert adopted is early and dbt_warm._early is None
        assert adopted.process.poll() is None
        # a server to adopt serves the build as any other
        result = run(CLIENT, [*MODELS, "--target", "duckdb"], env)
        assert result.returncode == 0, result.stderr
        assert names(result.stdout) == names(run(dbt_warm.real_dbt(), MODELS, env).stdout)
        assert adopted.process.wait(timeout=60) == 0
    finally:
        early.stop()


def test_an_early_server_of_another_parse_is_replaced_and_one_never_adopted_stopped(
    env: dict[str, str],
) -> None:
    dbt_warm.start_early(dbt_warm.ServerSpec(("parse",), env, PROJECT))
    early = dbt_warm._early
    assert early is not None
    spec = dbt_warm.ServerSpec(("parse", "--target", "duckdb"), env, PROJECT)
    server = dbt_warm.WarmDbtServer.start_or_adopt(spec)
    try:
        assert server is not early
        assert early.process.poll() == -signal.SIGTERM  # stopped unused
    finally:
        server.stop()
    dbt_warm.start_early(spec)
    left = dbt_warm._early
    assert left is not None
    dbt_warm.stop_early()
    assert dbt_warm._early is None and left.process.poll() == -signal.SIGTERM


def test_the_server_checkpoints_the_warehouse_before_it_answers(env: dict[str, str]) -> None:
    # A plain `dbt` process checkpoints DuckDB's write-ahead log when it exits; the server ends
    # with os._exit, so it closes the database itself: the next process to open the warehouse
    # must not find (and replay) the build's WAL.
    import duckdb

    from orchestration.contract import create_empty_raw_schema

    warehouse = Path(env["WAREHOUSE_PATH"])
    conn = duckdb.connect(str(warehouse))
    create_empty_raw_schema(conn)
    conn.close()
    server = start_server(env)
    try:
        result = run(CLIENT, ["run", "--select", "stg_shop__products", "--target", "duckdb"], env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert not warehouse.with_name(warehouse.name + ".wal").exists()
        conn = duckdb.connect(str(warehouse), read_only=True)
        assert conn.execute("select count(*) from staging.stg_shop__products").fetchone() == (0,)
        conn.close()
    finally:
        server.stop()
