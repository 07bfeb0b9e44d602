"""The definitions load, in-process and through the `dagster` CLI with workspace.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.contract import FEEDS


def test_definitions_load_with_every_feed_model_and_gate():
    from orchestration.definitions import defs

    job = defs.resolve_job_def("full_pipeline")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {f"raw/{feed}" for feed in FEEDS} <= keys
    assert {"marts/daily_sales", "marts/daily_traffic"} <= keys
    checks = {
        (check.asset_key.to_user_string(), check.name)
        for check in defs.resolve_asset_graph().asset_check_keys
    }
    for asset in (
        "raw/orders",
        "raw/order_items",
        "raw/payments",
        "raw/events",
        "marts/daily_sales",
    ):
        assert any(a == asset for a, _ in checks), f"no check on {asset}"


def test_dagster_definitions_validate_passes_for_workspace(tmp_path: Path):
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "WAREHOUSE_PATH": str(tmp_path / "w.duckdb"),
        "LANDING_DIR": str(tmp_path / "landing"),
    }
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=settings.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dbt_translator_keys_name_the_relation():
    from orchestration.assets.dbt import build_dbt_assets

    keys = {k.to_user_string() for k in build_dbt_assets().keys}
    assert "staging/stg_shop__orders" in keys
    assert all(k.split("/")[0] in {"staging", "intermediate", "marts"} for k in keys)
    assert dg.AssetKey(["raw", "orders"]) in build_dbt_assets().dependency_keys


def test_every_materializable_asset_has_a_blocking_check():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    blocking: dict[dg.AssetKey, list[str]] = {}
    for key in graph.asset_check_keys:
        if graph.get_check_spec(key).blocking:
            blocking.setdefault(key.asset_key, []).append(key.name)
    ungated = sorted(
        key.to_user_string() for key in graph.materializable_asset_keys if key not in blocking
    )
    assert not ungated, f"assets without a blocking check: {ungated}"
    # The two that had none before: a dbt data test and the serving check.
    assert blocking[dg.AssetKey(["intermediate", "int_customer_snapshot_date"])]
    assert blocking[dg.AssetKey(["serving", "marts"])] == ["serving_matches_publish_log"]
