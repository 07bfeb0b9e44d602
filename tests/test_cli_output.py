"""What `make run` prints: a real `pipeline` run and `where`, as subprocesses whose stdout is a
pipe (no terminal: the plain one-line-per-stage progress), over a tiny generated landing with
every path in the test's temp dir.

By default the run prints a few dozen lines: no dbt node line, no Dagster event line, no
third-party warning; the summary counts distinct assets apart from partition materializations;
`where` names the serving file, the report, the Data Docs and the UI, with row counts read from
the published serving file (not the working warehouse). `-v` brings the full detail back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import settings
from orchestration.sample import generate
from tests.conftest import ISOLATED_PATHS

MAX_LINES = 60
UI_URL = "http://127.0.0.1:3000"
STAGES = ("ingest", "raw checks", "dbt", "mart checks", "publish")
SUMMARY = re.compile(r"^(\d+) assets \(([\d,]+) partition materializations\); checks: (\d+) passed")


@dataclass
class CliRun:
    """The temp dir of one `pipeline` run, its environment and what it printed."""

    root: Path
    env: dict[str, str]
    lines: list[str]
    returncode: int

    def path(self, name: str) -> Path:
        return Path(self.env[name])


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m orchestration.cli ARGS`, stdout and stderr in one pipe (all a terminal shows)."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        cwd=settings.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )


def isolated_env(root: Path) -> dict[str, str]:
    """This environment with every path, the deployment file and `.env` under `root`."""
    (root / "warehouse.yaml").write_text("# empty: the defaults\n")
    (root / "dotenv").write_text("# empty: the environment and the defaults\n")
    unset = ("VERBOSE", "DBT_VARS", "SPARK_RAW_DIR", "PYTHONWARNINGS", "DAGSTER_UI_URL")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env.update({name: str(root / relative) for name, relative in ISOLATED_PATHS.items()})
    env.update(
        WAREHOUSE_CONFIG=str(root / "warehouse.yaml"), WAREHOUSE_ENV_FILE=str(root / "dotenv")
    )
    return env


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    root = tmp_path_factory.mktemp("cli_output")
    generate(root / "landing", scale=0.002, seed=7, days=30, start=date(2025, 1, 1))
    env = isolated_env(root)
    done = cli(env, "pipeline")
    return CliRun(root, env, done.stdout.splitlines(), done.returncode)


def published_counts(serving_db: Path) -> dict[str, int]:
    conn = duckdb.connect(str(serving_db), read_only=True)
    try:
        names = conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and not starts_with(table_name, '_')"
        ).fetchall()
        return {
            n: conn.execute(f'select count(*) from marts."{n}"').fetchone()[0] for (n,) in names
        }
    finally:
        conn.close()


def test_pipeline_prints_a_short_summary(run: CliRun) -> None:
    text = "\n".join(run.lines)
    assert run.returncode == 0, text
    assert len(run.lines) <= MAX_LINES, text
    assert not [line for line in run.lines if "Warning" in line or "warnings.warn" in line]
    assert " - dagster - " not in text and "OK created" not in text  # no event or dbt lines
    for stage in STAGES:  # one line per stage, every step done
        line = next(line for line in run.lines if line.startswith(f"{stage} "))
        done, total = re.search(r"(\d+)/(\d+) steps", line).groups()
        assert done == total and line.endswith("done"), line


def test_summary_counts_assets_apart_from_partitions(
    run: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distinct asset keys vs materialization events, as the run's event log holds them."""
    found = [SUMMARY.match(line) for line in run.lines]
    summary = next(match for match in found if match)
    assets, events = int(summary[1]), int(summary[2].replace(",", ""))
    home = run.path("DAGSTER_HOME")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the event log storage's folder
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (dagster_run,) = instance.get_runs()
        logged = instance.all_logs(
            dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
    assert events == len(logged)
    assert assets == len({entry.dagster_event.asset_key for entry in logged})
    assert assets < events  # 13 raw feeds x 30 daily partitions, one event each


def test_where_names_every_place_and_counts_the_published_marts(run: CliRun) -> None:
    serving_db = run.path("SERVING_DIR") / "serving.duckdb"
    counts = published_counts(serving_db)
    line = f"{len(counts)} marts, {sum(counts.values()):,} rows"
    shown = cli(run.env, "where").stdout
    for place in (
        serving_db,
        run.path("SERVING_DIR") / "report.html",
        run.path("GX_DOCS_DIR") / "index.html",
    ):
        assert place.exists() and str(place) in shown, place
    assert UI_URL in shown and "make ui" in shown and line in shown
    assert "not written yet" not in shown
    assert len(run.lines) + len(shown.splitlines()) <= MAX_LINES, shown
    # Without the working warehouse the counts are the same: they come from the serving file.
    warehouse = run.path("WAREHOUSE_PATH")
    warehouse.rename(warehouse.with_name("moved.duckdb"))
    try:
        assert line in cli(run.env, "where").stdout
    finally:
        warehouse.with_name("moved.duckdb").rename(warehouse)


def test_verbose_brings_the_detail_back(run: CliRun) -> None:
    """`-v`: Dagster's event lines and dbt's node lines (a one-day run, after the first)."""
    done = cli(run.env, "pipeline", "-v", "--from", "2025-01-30", "--to", "2025-01-30")
    assert done.returncode == 0, done.stdout
    assert " - dagster - INFO - " in done.stdout
    assert re.search(r"\d+ of \d+ (START|OK|PASS)", done.stdout), done.stdout[-3000:]
