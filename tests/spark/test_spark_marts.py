"""The same dbt models build the same marts on Spark as on DuckDB (issue 9).

One tiny generated sample goes through the real pipeline (DuckDB target: ingest, dbt, GX,
publish); its raw tables are exported to Parquet and the whole dbt project is built on a local
Spark (dbt-spark `session`, `dbt build --target spark --full-refresh`: models, data tests and
unit tests). Then every mart must be equal on its grain: same rows, money exact, doubles within
1e-9. Needs `make install-spark` (dbt-spark, pyspark) and Java 17+: run by `make test-spark`,
deselected from `make test`; a missing adapter or JVM fails the test, it never skips.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from orchestration import cli, settings
from orchestration.sample import generate
from orchestration.spark.build import build
from orchestration.spark.export import ExportedTable
from tests.spark.compare import compare_marts, mart_grains

pytestmark = pytest.mark.spark

# The tiny sample: `python -m orchestration.sample --scale 0.001 --days 35`.
SCALE, SEED, DAYS, START = 0.001, 42, 35, date(2025, 1, 1)


@dataclass
class SparkBuild:
    warehouse: Path
    spark_dir: Path
    exported: list[ExportedTable]
    result: subprocess.CompletedProcess[str]
    seconds: float


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkBuild]:
    root = tmp_path_factory.mktemp("spark_marts")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    generate(landing, scale=SCALE, seed=SEED, days=DAYS, start=START)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANDING_DIR", str(landing))
        mp.setenv("WAREHOUSE_PATH", str(warehouse))
        mp.setenv("SERVING_DIR", str(root / "serving"))
        mp.delenv("DBT_VARS", raising=False)
        mp.delenv("DBT_TARGET", raising=False)  # the pipeline builds the DuckDB marts
        (root / "dagster_home").mkdir()
        with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
            report = cli.run_pipeline(instance=instance)
        assert report.ok, (report.failed_steps, report.failed_checks)
        started = time.perf_counter()
        exported, result = build(warehouse, root / "spark")
        seconds = time.perf_counter() - started
        # Shown with -s / in the CI log: the Spark build time on the tiny sample.
        print(f"\nspark dbt build on the tiny sample: {seconds:.1f}s")
        yield SparkBuild(warehouse, root / "spark", exported, result, seconds)


def test_raw_tables_are_exported_for_spark(spark_build: SparkBuild):
    exported = {(t.schema, t.table): t for t in spark_build.exported}
    for feed in ("orders", "order_items", "payments", "events", "customers"):
        assert exported[("raw", feed)].rows > 0, feed
        assert exported[("raw", feed)].path.is_file(), feed


def test_dbt_build_passes_on_spark(spark_build: SparkBuild):
    result = spark_build.result
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-3000:])
    # every model, data test and unit test ran and passed: nothing errored, failed or skipped
    summary = [line for line in result.stdout.splitlines() if "Done. PASS=" in line]
    assert summary, result.stdout[-3000:]
    assert "ERROR=0" in summary[-1] and "SKIP=0" in summary[-1], summary[-1]


def test_every_mart_equals_its_duckdb_build(spark_build: SparkBuild):
    grains = mart_grains(settings.DBT_PROJECT_DIR / "target" / "manifest.json")
    assert len(grains) == 40  # every dbt mart (churn_risk is a Python asset, DuckDB only)
    differences = compare_marts(spark_build.warehouse, spark_build.spark_dir, grains)
    assert differences == {}, "\n".join(
        f"{mart}: {line}" for mart, lines in differences.items() for line in lines
    )
