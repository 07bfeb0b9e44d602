"""Shared fixtures.

The dbt manifest is parsed once per test session (as `make prepare` does), and one tiny generated
sample is run through the whole pipeline once, in a real Dagster instance, for every test that
reads its marts (end to end, reconciliation, planted facts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration import cli
from orchestration.sample import generate

SAMPLE_SCALE = 0.002
SAMPLE_SEED = 7
SAMPLE_DAYS = 91
SAMPLE_START = date(2025, 1, 6)


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> None:
    cli.prepare()


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
