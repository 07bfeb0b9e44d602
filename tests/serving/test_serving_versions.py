"""Publish versions, SERVING_KEEP, the accumulated publish log, rollback, and failures that must
leave the serving folder byte for byte as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import serving, settings
from orchestration.assets.publish import ServingResource, build_publish_asset, write_serving_copy
from orchestration.checks.publish_checks import verify_serving
from orchestration.resources import WarehouseResource

MARTS = ["daily_sales", "daily_traffic"]


def _create_marts(conn: duckdb.DuckDBPyConnection, days: int = 5) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    conn.execute(
        "CREATE OR REPLACE TABLE marts.daily_sales AS SELECT DATE '2025-01-01' + CAST(i AS INTEGER)"
        f" AS business_date, CAST(i * 10.5 AS DECIMAL(18, 2)) AS gmv FROM range({days}) t(i)"
    )
    conn.execute(
        "CREATE OR REPLACE TABLE marts.daily_traffic AS "
        "SELECT DATE '2025-01-01' + CAST(i AS INTEGER) AS business_date, i AS sessions "
        "FROM range(3) t(i)"
    )


def _publish(tmp_path: Path, days: int, run_id: str, keep: int = 5) -> int:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        _create_marts(conn, days)
        return write_serving_copy(conn, tmp_path / "serving", run_id, MARTS, keep=keep).version
    finally:
        conn.close()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _log(database: Path) -> list[dict]:
    return serving.read_log(database)


def _count(database: Path, sql: str) -> int:
    conn = duckdb.connect(str(database), read_only=True)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_publishes_are_numbered_the_log_accumulates_and_only_keep_are_kept(
    tmp_path: Path,
) -> None:
    root = tmp_path / "serving"
    versions = [_publish(tmp_path, days, f"run-{days}", keep=3) for days in range(1, 6)]
    assert versions == [1, 2, 3, 4, 5]
    assert serving.kept_versions(root) == [3, 4, 5]
    assert serving.current_version(root) == 5
    assert (root / "serving.duckdb").read_bytes() == (
        root / "versions" / "v000005" / "serving.duckdb"
    ).read_bytes()
    for mart in MARTS:
        assert (root / "parquet" / f"{mart}.parquet").read_bytes() == (
            root / "versions" / "v000005" / "parquet" / f"{mart}.parquet"
        ).read_bytes()
    log = _log(root / "serving.duckdb")
    assert list(log[0]) == [
        *("version", "published_at", "run_id", "row_counts", "checks_passed"),
        *("dagster_version", "duckdb_version", "storage_version"),
    ]
    assert [r["version"] for r in log] == [1, 2, 3, 4, 5]
    assert [r["run_id"] for r in log] == [f"run-{d}" for d in range(1, 6)]
    assert [json.loads(r["row_counts"]) for r in log] == [
        {"daily_sales": d, "daily_traffic": 3} for d in range(1, 6)
    ]
    assert all(r["duckdb_version"] == duckdb.__version__ and r["dagster_version"] for r in log)
    assert log[0]["published_at"] <= log[-1]["published_at"]
    # Each kept version is complete and carries the log up to itself.
    assert [r["version"] for r in _log(root / "versions" / "v000003" / "serving.duckdb")] == [
        1,
        2,
        3,
    ]
    assert not [p for p in (root / "versions").iterdir() if p.name.startswith(".")]
    assert verify_serving(root, MARTS, "run-5")[0] == []


def test_rollback_cli_swaps_a_kept_version_back_and_the_next_publish_goes_on(
    tmp_path: Path,
) -> None:
    root = tmp_path / "serving"
    for days in range(1, 6):
        _publish(tmp_path, days, f"run-{days}", keep=3)
    env = {**os.environ, "SERVING_DIR": str(root)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "orchestration.serving", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["v000003", "v000004", "v000005"]
    assert lines[-1].endswith("(current)") and "(current)" not in lines[0]

    back = cli("rollback")
    assert back.returncode == 0, back.stderr
    assert "version 4" in back.stdout
    assert serving.current_version(root) == 4
    assert (root / "serving.duckdb").read_bytes() == (
        root / "versions" / "v000004" / "serving.duckdb"
    ).read_bytes()
    assert _count(root / "serving.duckdb", "SELECT count(*) FROM marts.daily_sales") == 4
    parquet = root / "parquet" / "daily_sales.parquet"
    assert _count(root / "serving.duckdb", f"SELECT count(*) FROM '{parquet}'") == 4
    assert verify_serving(root, MARTS, "run-4")[0] == []

    assert cli("rollback", "--to", "3").returncode == 0
    assert serving.current_version(root) == 3
    before = _snapshot(root)
    refused = cli("rollback", "--to", "1")  # pruned
    assert refused.returncode == 2 and "not kept" in refused.stderr
    assert _snapshot(root) == before

    # The next publish is version 6 and carries the whole history (from the newest kept one).
    assert _publish(tmp_path, 7, "run-7", keep=3) == 6
    assert [r["version"] for r in _log(root / "serving.duckdb")] == [1, 2, 3, 4, 5, 6]
    assert serving.kept_versions(root) == [4, 5, 6]


def test_a_failed_publish_leaves_serving_exactly_as_it_was(tmp_path: Path) -> None:
    _publish(tmp_path, 5, "run-1")
    root = tmp_path / "serving"
    before = _snapshot(root)
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        with pytest.raises(duckdb.CatalogException, match="daily_missing"):
            write_serving_copy(conn, root, "run-2", [*MARTS, "daily_missing"])
    finally:
        conn.close()
    assert _snapshot(root) == before  # nothing swapped, no staging folder or temp file left


def test_a_failed_check_in_the_run_fails_the_publish_and_leaves_serving_as_it_was(
    tmp_path: Path,
) -> None:
    """The publish is reached (the failed check is not blocking, as a dbt test check is not for
    a Python asset, dagster #25112) and refuses: Failure, serving bytes unchanged."""
    mart_keys = [dg.AssetKey(["marts", m]) for m in MARTS]
    check_spec = dg.AssetCheckSpec("gmv_not_negative", asset=mart_keys[0])

    def marts_asset(fail: bool) -> dg.AssetsDefinition:
        @dg.multi_asset(specs=[dg.AssetSpec(k) for k in mart_keys], check_specs=[check_spec])
        def marts(warehouse: WarehouseResource):
            with warehouse.connect() as conn:
                _create_marts(conn, days=9 if fail else 5)
            for key in mart_keys:
                yield dg.MaterializeResult(asset_key=key)
            yield dg.AssetCheckResult(
                asset_key=mart_keys[0],
                check_name="gmv_not_negative",
                passed=not fail,
                severity=dg.AssetCheckSeverity.ERROR,
            )

        return marts

    resources = {
        "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
        "serving": ServingResource(dir=str(tmp_path / "serving")),
    }
    publish = build_publish_asset(mart_keys)
    ok = dg.materialize([marts_asset(False), publish], resources=resources)
    assert ok.success
    (materialization,) = ok.asset_materializations_for_node("serving__marts")
    assert materialization.metadata["version"].value == 1
    assert materialization.metadata["checks_passed"].value == 1
    assert _log(tmp_path / "serving" / "serving.duckdb")[0]["checks_passed"] == 1
    before = _snapshot(tmp_path / "serving")

    failed = dg.materialize([marts_asset(True), publish], resources=resources, raise_on_error=False)
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    assert failure.step_key == "serving__marts"
    assert "not published: checks failed in this run: marts/daily_sales:gmv_not_negative" in (
        failure.step_failure_data.user_failure_data.description
    )
    assert _snapshot(tmp_path / "serving") == before


def test_a_log_from_before_versions_is_carried_over(tmp_path: Path) -> None:
    """A serving.duckdb published before versioning (one log row, no version column)."""
    root = tmp_path / "serving"
    root.mkdir()
    conn = duckdb.connect(str(root / "serving.duckdb"))
    try:
        conn.execute("CREATE SCHEMA marts")
        conn.execute(
            "CREATE TABLE marts._publish_log AS SELECT 'old-run' AS run_id, "
            "TIMESTAMP '2025-01-01 00:00:00' AS published_at, "
            """CAST('{"daily_sales": 1}' AS JSON) AS row_counts"""
        )
    finally:
        conn.close()
    assert serving.next_version(root) == 1
    assert _publish(tmp_path, 5, "run-new") == 1
    log = _log(root / "serving.duckdb")
    assert [(r["version"], r["run_id"]) for r in log] == [(None, "old-run"), (1, "run-new")]
    assert verify_serving(root, MARTS, "run-new")[0] == []


def test_serving_keep_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVING_KEEP", "0")
    with pytest.raises(ValueError, match="SERVING_KEEP"):
        settings.get()
    monkeypatch.delenv("SERVING_KEEP")
    assert settings.get().serving_keep == 5
