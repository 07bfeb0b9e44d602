"""Shared fixtures, the session's guards and the test tiers.

`isolated_paths` points every path setting into the session's temp dir (the deployment config
and `.env` are empty files there; DBT_VARS and SPARK_RAW_DIR are unset). When the session ends
the guards fail it if the repository's data/ changed or git gained an untracked file, and, with
CI set, if any test was skipped.

`sample_run` runs one tiny generated sample through the whole pipeline once per session, in a
real Dagster instance; every test that reads marts shares it. SLOW lists the tests that build
more on their own (`make test-slow`); `make test` runs the rest.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from xdist.scheduler import LoadScopeScheduling

from orchestration import cli, settings
from orchestration.sample import generate

SAMPLE_SCALE = 0.002
SAMPLE_SEED = 7
SAMPLE_DAYS = 91
SAMPLE_START = date(2025, 1, 6)

# ------------------------------------------------------------------------------ tiers

# The slow tier: tests that run a pipeline, a dbt build, a server or a pip install of their own
# (a file, one test of it, or one parametrization `test[id]`). Tests that only read the
# session's `sample_run` stay fast. The range runs of the GX checks (several Dagster runs each)
# stay fast on the sql backend; their pandas twins are slow.
SLOW = (
    "tests/assets/test_churn.py::test_year_of_landing_trains_reaches_the_auc_and_reconciles",
    "tests/byod/test_six_feed_landing.py",
    "tests/checks/test_gx_checks.py::test_a_bad_row_in_the_runs_range_fails_the_critical_check[pandas]",
    "tests/checks/test_gx_checks.py::test_table_level_expectations_judge_the_whole_table_in_a_one_day_run[pandas]",
    "tests/checks/test_gx_checks.py::test_a_bad_row_outside_the_range_is_judged_by_a_full_range_run_only[pandas]",
    "tests/checks/test_gx_checks.py::test_rows_written_outside_the_range_since_the_last_check_are_judged[pandas]",
    "tests/checks/test_gx_checks.py::test_after_a_failed_check_every_row_is_judged_until_it_passes[pandas]",
    "tests/checks/test_gx_checks.py::test_a_changed_suite_judges_every_row[pandas]",
    "tests/dashboards/test_dashboards.py",
    "tests/dbt/test_incremental.py::test_incremental_build_reads_only_the_batch",
    "tests/dbt/test_incremental.py::test_incremental_build_equals_full_refresh",
    "tests/dbt/test_incremental.py::test_batch_changed_the_marts",
    "tests/dbt/test_incremental.py::test_incremental_models_have_no_duplicate_keys",
    "tests/dbt/test_incremental.py::test_batch_data_tests_read_the_rows_the_build_wrote",
    "tests/dbt/test_incremental.py::test_a_bad_batch_row_fails_its_data_test",
    "tests/dbt/test_incremental.py::test_sigkill_mid_build_then_rerun_converges",
    "tests/ingest/test_bad_input_matrix.py::test_rejected_file_fails_the_run_and_leaves_every_mart_unchanged",
    "tests/ingest/test_orphans.py::test_a_line_a_day_before_its_order_reaches_the_marts",
    "tests/serving/test_concurrent_reads.py",
    "tests/serving/test_old_client.py",
    "tests/test_cli_output.py",
    "tests/test_crash_recovery.py",
    "tests/test_incremental_e2e.py",
    "tests/test_pipeline_e2e.py::test_corrupt_batch_is_blocked_and_marts_keep_their_contents",
    "tests/test_pipeline_handwritten.py",
    "tests/test_retry_policy.py::test_a_dbt_error_is_not_retried_and_names_its_first_cause",
    "tests/test_ui.py",
)


# `make test` runs two pytest-xdist workers with `--dist loadgroup`: a group's tests run on one
# worker, in file order. The tests that read `sample_run` are one group, so one worker runs its
# pipeline once; the others are grouped by file, so a file's module-scoped fixtures are built once.
# xdist's own loadgroup reads `xdist_group` marks from node ids, which pytest 9 no longer lets it
# rename: each worker writes the groups of its tests to pytest's cache as it collects, and the
# controller's scheduler (GroupScheduling) reads them there.
SAMPLE_RUN_GROUP = "sample_run"
XDIST_GROUPS = "tests/xdist_groups"  # the cache key: {node id: group}


def xdist_group(item: pytest.Item) -> str:
    """The xdist group of a test: SAMPLE_RUN_GROUP when it reads `sample_run`, else its file."""
    return SAMPLE_RUN_GROUP if "sample_run" in item.fixturenames else item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before the worker reports its collection to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    cache = getattr(session.config, "cache", None)  # None under `-p no:cacheprovider`
    if hasattr(session.config, "workerinput") and cache is not None:
        cache.set(XDIST_GROUPS, {item.nodeid: xdist_group(item) for item in session.items})


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling (one scope on one worker) with the groups as scopes; a test the
    cache does not name is grouped by its file."""

    def _split_scope(self, nodeid: str) -> str:
        if not hasattr(self, "groups"):  # read once, when every worker has collected
            cache = getattr(self.config, "cache", None)
            self.groups = cache.get(XDIST_GROUPS, {}) if cache is not None else {}
        return self.groups.get(nodeid) or nodeid.split("::")[0]


@pytest.hookimpl(optionalhook=True)  # an xdist hook: none without xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> GroupScheduling | None:
    return GroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


def slow_entry(nodeid: str) -> str | None:
    """The SLOW entry that names this test: its file, the test whatever its parameters, or this
    one parametrization."""
    test = nodeid.split("[", 1)[0]
    return next((e for e in SLOW if e in (nodeid, test) or test.startswith(e + "::")), None)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the SLOW tests `slow` before `-m` selects. On a plain run (no paths given) an entry
    that names no test (renamed, moved) is an error: its test would slip into `make test`."""
    used = set()
    for item in items:
        entry = slow_entry(item.nodeid)
        if entry is not None:
            item.add_marker(pytest.mark.slow)
            used.add(entry)
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return
    collected = {item.nodeid.split("::", 1)[0] for item in items}
    stale = []
    for entry in sorted(set(SLOW) - used):
        file = entry.split("::", 1)[0]
        if file in collected or not (config.rootpath / file).is_file():
            stale.append(entry)
    if stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW names no test: {stale}")


# ------------------------------------------------------------------------------ isolation

# The path settings and where each goes under the session's folder.
ISOLATED_PATHS = {
    "LANDING_DIR": "landing",
    "WAREHOUSE_PATH": "warehouse.duckdb",
    "SERVING_DIR": "serving",
    "GX_DOCS_DIR": "docs",
    "DAGSTER_HOME": "dagster_home",
    "SPARK_DIR": "spark",
}
UNSET_VARS = ("DBT_VARS", "SPARK_RAW_DIR")


@pytest.fixture(scope="session", autouse=True)
def isolated_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's folder, which every path setting points into (see the module docstring).

    Defined before every other fixture, and named by `dbt_manifest`, so it is in place before
    anything reads a setting; `orchestration.definitions`, which reads GX_DOCS_DIR once when
    imported, is imported by tests only (never at collection).
    """
    root = tmp_path_factory.mktemp("session_paths")
    config = root / "warehouse.yaml"
    config.write_text("# the test session's deployment config: empty, i.e. the defaults\n")
    env_file = root / "dotenv"
    env_file.write_text("# the test session's .env: empty, i.e. the environment and defaults\n")
    with pytest.MonkeyPatch.context() as mp:
        for name, relative in ISOLATED_PATHS.items():
            mp.setenv(name, str(root / relative))
        mp.setenv("WAREHOUSE_CONFIG", str(config))
        mp.setenv("WAREHOUSE_ENV_FILE", str(env_file))
        mp.setenv("GX_DOCS_URL", "file")  # no docs server in tests: link the files
        for name in UNSET_VARS:
            mp.delenv(name, raising=False)
        yield root


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest(isolated_paths: Path) -> None:
    """`make prepare` for a session started without it (xdist workers take turns in it)."""
    cli.prepare()


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A real DuckDB file in the test's tmp dir, in UTC like the pipeline's connections."""
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    c.execute("SET TimeZone = 'UTC'")
    yield c
    c.close()


# ------------------------------------------------------------------------------ guards

DATA_DIR = settings.REPO_ROOT / "data"
TRUE_VALUES = ("1", "true", "yes")


def running_in_ci() -> bool:
    """CI is set to a true value (GitHub Actions, GitLab CI and most others set CI=true)."""
    return os.environ.get("CI", "").strip().lower() in TRUE_VALUES


def skip_or_fail(reason: str) -> None:
    """Skip the test with `reason`; under CI fail it instead (CI must run every check)."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI is set: a check that cannot run is a failure)", pytrace=False)
    pytest.skip(reason)


def snapshot_tree(root: Path) -> dict[str, str]:
    """Every path under `root` (relative; `.` is root itself) with what it is: `dir`,
    `file <size> <mtime_ns>` or `link -> <target>`; {".": "absent"} when root does not exist.

    A path that disappears while it is walked (another process) is left out."""
    if not root.is_dir():
        return {".": "absent"}
    found = {".": "dir"}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            try:
                stat = path.lstat()
                if path.is_symlink():
                    kind = f"link -> {os.readlink(path)}"
                elif path.is_dir():
                    kind = "dir"
                else:
                    kind = f"file {stat.st_size} {stat.st_mtime_ns}"
            except FileNotFoundError:
                continue
            found[path.relative_to(root).as_posix()] = kind
    return found


def tree_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What differs between two snapshots of a folder: `added x`, `removed x`, `changed x`."""
    changes = []
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            changes.append(f"added {path}")
        elif path not in after:
            changes.append(f"removed {path}")
        elif before[path] != after[path]:
            changes.append(f"changed {path}")
    return changes


def untracked_files(repo: Path) -> set[str] | None:
    """Untracked files git does not ignore (`git status --untracked-files=all`); None when git
    cannot tell (no git, not a checkout). Takes no lock: others may commit meanwhile."""
    try:
        proc = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all", "-z"],
            cwd=repo,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {entry[3:] for entry in proc.stdout.split("\0") if entry.startswith("?? ")}


@dataclass
class RepoState:
    """What the session must leave as it found it: data/, and the untracked files."""

    data: dict[str, str]
    untracked: set[str] | None

    @classmethod
    def capture(cls) -> RepoState:
        return cls(snapshot_tree(DATA_DIR), untracked_files(settings.REPO_ROOT))

    def breaches(self, now: RepoState) -> list[str]:
        found = [f"data/: {change}" for change in tree_changes(self.data, now.data)]
        if self.untracked is not None and now.untracked is not None:
            found += [f"new untracked file {p}" for p in sorted(now.untracked - self.untracked)]
        return found


REPO_STATE = pytest.StashKey[RepoState]()
BREACHES = pytest.StashKey[list[str]]()
_skipped: list[str] = []  # "<nodeid>: <reason>" of every skipped test (and skipped collection)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[REPO_STATE] = RepoState.capture()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(f"{report.nodeid}: {_skip_reason(report)}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        _skipped.append(f"{report.nodeid} (collection): {_skip_reason(report)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    breaches: list[str] = []
    start = session.config.stash.get(REPO_STATE, None)
    if start is not None:
        changed = start.breaches(RepoState.capture())
        if changed:
            breaches.append(
                "the test session wrote into the repository (data/ is the user's warehouse; "
                "tests write under their tmp dirs only), or another process did meanwhile:"
            )
            breaches += [f"  {line}" for line in changed]
    if running_in_ci() and _skipped:
        breaches.append(f"CI is set and {len(_skipped)} test(s) skipped (a skip is a failure):")
        breaches += [f"  {line}" for line in _skipped]
    session.config.stash[BREACHES] = breaches
    if breaches and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    breaches = terminalreporter.config.stash.get(BREACHES, [])
    if breaches:
        terminalreporter.section("session guards: FAILED", sep="=", red=True, bold=True)
        for line in breaches:
            terminalreporter.line(line, red=True)


# ------------------------------------------------------------------------------ sample run


@dataclass
class SampleRun:
    """One pipeline run over a generated sample, and where everything went."""

    root: Path
    landing: Path
    warehouse: Path
    serving: Path
    manifest: dict
    report: cli.RunReport
    instance: dg.DagsterInstance
    monkeypatch: pytest.MonkeyPatch

    def query(self, sql: str, db: Path | None = None) -> list[tuple]:
        conn = duckdb.connect(str(db or self.warehouse), read_only=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def df(self, sql: str) -> pd.DataFrame:
        conn = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return conn.execute(sql).df()
        finally:
            conn.close()


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleRun]:
    root = tmp_path_factory.mktemp("sample_run")
    landing = root / "landing"
    manifest = generate(
        landing, scale=SAMPLE_SCALE, seed=SAMPLE_SEED, days=SAMPLE_DAYS, start=SAMPLE_START
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANDING_DIR", str(landing))
        mp.setenv("WAREHOUSE_PATH", str(root / "warehouse.duckdb"))
        mp.setenv("SERVING_DIR", str(root / "serving"))
        mp.delenv("DBT_VARS", raising=False)
        (root / "dagster_home").mkdir()
        with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
            report = cli.run_pipeline(instance=instance)
            yield SampleRun(
                root=root,
                landing=landing,
                warehouse=root / "warehouse.duckdb",
                serving=root / "serving",
                manifest=manifest,
                report=report,
                instance=instance,
                monkeypatch=mp,
            )


def mart_rows(db: Path) -> dict[str, list[tuple]]:
    """Every row of every mart of the DuckDB file `db`, sorted: two builds compare equal."""
    with duckdb.connect(str(db), read_only=True) as conn:
        names = [
            n
            for (n,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'marts' AND table_name NOT LIKE '\\_%' ESCAPE '\\' "
                "ORDER BY 1"
            ).fetchall()
        ]
        return {
            n: conn.execute(f'SELECT * FROM marts."{n}" ORDER BY ALL').fetchall() for n in names
        }
