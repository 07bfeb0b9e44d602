"""Shared fixtures, and the session's guards.

Isolation (`isolated_paths`, the first fixture of every session): every path setting points into
the session's temp dir (LANDING_DIR, WAREHOUSE_PATH, SERVING_DIR, GX_DOCS_DIR, DAGSTER_HOME,
SPARK_DIR), the deployment config (WAREHOUSE_CONFIG) and the `.env` file (WAREHOUSE_ENV_FILE) are
empty files there (the defaults: a local `warehouse.yaml` or `.env` at the repository root is never
read), and DBT_VARS and SPARK_RAW_DIR are unset, whatever the shell or the Makefile exported. A
test or fixture sets its own paths on top.

Guards (checked when the session ends; a breach fails the session with exit status 1 and names
the paths or tests):
- nothing under the repository's data/ (the user's warehouse) was added, changed or removed, and
  the repository gained no untracked file that git does not ignore. Another process of the user
  writing there during the session is flagged too: run the tests again when it is done.
- with CI set (CI=true, 1 or yes), no test was skipped: a skip there hides a missing check.

The dbt manifest is parsed once per test session (as `make prepare` does), and one tiny generated
sample is run through the whole pipeline once, in a real Dagster instance, for every test that
reads its marts (end to end, reconciliation, planted facts).
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

from orchestration import cli, settings
from orchestration.sample import generate

SAMPLE_SCALE = 0.002
SAMPLE_SEED = 7
SAMPLE_DAYS = 91
SAMPLE_START = date(2025, 1, 6)

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
