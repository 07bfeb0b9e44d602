"""The blocking check on `serving/marts`: a real publish into a temporary folder, then tampering."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.assets.publish import (
    PUBLISH_KEY,
    ServingResource,
    build_publish_asset,
    write_serving_copy,
)
from orchestration.checks.publish_checks import CHECK_NAME, build_publish_check, verify_serving
from orchestration.resources import WarehouseResource

MARTS = ["daily_sales", "daily_traffic"]


def _create_marts(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    conn.execute(
        "CREATE OR REPLACE TABLE marts.daily_sales AS "
        "SELECT DATE '2025-01-01' + CAST(i AS INTEGER) AS business_date, i * 10.0 AS gmv "
        "FROM range(5) t(i)"
    )
    conn.execute(
        "CREATE OR REPLACE TABLE marts.daily_traffic AS "
        "SELECT DATE '2025-01-01' + CAST(i AS INTEGER) AS business_date, i AS sessions "
        "FROM range(3) t(i)"
    )


@pytest.fixture
def published(tmp_path: Path) -> Path:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        _create_marts(conn)
        write_serving_copy(conn, tmp_path / "serving", "run-1", MARTS)
    finally:
        conn.close()
    return tmp_path / "serving"


def test_a_sound_publish_passes(published: Path) -> None:
    problems, counts = verify_serving(published, MARTS, "run-1")
    assert problems == []
    assert counts == {"daily_sales": 5, "daily_traffic": 3}


def test_a_stale_publish_log_fails(published: Path) -> None:
    problems, _ = verify_serving(published, MARTS, "run-2")
    assert problems == ["the publish log's version 1 is from run run-1, not this run run-2"]


def test_the_check_reads_the_newest_version_of_an_accumulated_log(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        _create_marts(conn)
        write_serving_copy(conn, tmp_path / "serving", "run-1", MARTS)
        conn.execute("DELETE FROM marts.daily_sales WHERE gmv > 20")
        write_serving_copy(conn, tmp_path / "serving", "run-2", MARTS)
    finally:
        conn.close()
    problems, counts = verify_serving(tmp_path / "serving", MARTS, "run-2")
    assert problems == []
    assert counts == {"daily_sales": 3, "daily_traffic": 3}


def test_a_current_version_that_is_not_kept_fails(published: Path) -> None:
    shutil.rmtree(published / "versions" / "v000001")
    problems, _ = verify_serving(published, MARTS, "run-1")
    assert problems == [
        f"version 1 is not kept: {published / 'versions' / 'v000001' / 'serving.duckdb'} "
        "does not exist"
    ]


def test_a_mart_missing_from_the_publish_fails(published: Path) -> None:
    problems, _ = verify_serving(published, [*MARTS, "daily_users"], "run-1")
    assert problems == ["marts.daily_users is not in the publish log"]


def test_a_parquet_file_that_does_not_match_fails(published: Path) -> None:
    parquet = published / "parquet" / "daily_sales.parquet"
    duckdb.execute(f"COPY (SELECT 1 AS business_date) TO '{parquet}' (FORMAT parquet)")
    problems, _ = verify_serving(published, MARTS, "run-1")
    assert any("daily_sales.parquet has 1 rows, the publish log says 5" in p for p in problems)
    assert any("daily_sales.parquet columns" in p for p in problems)


def test_a_missing_or_unreadable_database_fails(tmp_path: Path, published: Path) -> None:
    problems, counts = verify_serving(tmp_path / "nowhere", MARTS)
    assert counts == {} and len(problems) == 1 and "database does not exist" in problems[0]
    (published / "serving.duckdb").write_bytes(b"not a database")
    problems, _ = verify_serving(published, MARTS)
    assert len(problems) == 1 and "does not open read-only" in problems[0]


def test_the_check_runs_after_the_publish_and_blocks(tmp_path: Path) -> None:
    mart_keys = [dg.AssetKey(["marts", m]) for m in MARTS]

    @dg.multi_asset(specs=[dg.AssetSpec(k) for k in mart_keys])
    def marts(warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            _create_marts(conn)

    publish_check = build_publish_check(mart_keys)
    (spec,) = publish_check.check_specs
    assert spec.blocking and spec.asset_key == PUBLISH_KEY and spec.name == CHECK_NAME

    result = dg.materialize(
        [marts, build_publish_asset(mart_keys), publish_check],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
            "serving": ServingResource(dir=str(tmp_path / "serving")),
        },
        raise_on_error=False,
    )
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed, evaluation.description
    assert evaluation.metadata["row_counts"].value == {"daily_sales": 5, "daily_traffic": 3}
