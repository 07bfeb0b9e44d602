"""The batched SQLite event log (orchestration/dagster_storage.py) stores what the stock one does.

Each case runs the same single-run backfill (a partitioned asset with a blocking check, then a
downstream asset) in two real Dagster instances, one per storage class, and compares what the
UI and the sensors read back: materialized partitions, planned events, check evaluations, the
run's events, and the failed partitions of a failed run.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from orchestration.cli import DAGSTER_YAML
from orchestration.dagster_storage import MAX_OPEN_SHARDS, FastSqliteEventLogStorage
from orchestration.partitions import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

STOCK_YAML = "telemetry:\n  enabled: false\n"
PARTITIONS = dg.StaticPartitionsDefinition([f"p{i:03d}" for i in range(120)])
KEY = dg.AssetKey(["raw", "feed"])


def _definitions(fail: bool) -> dg.Definitions:
    @dg.asset(
        key=KEY,
        partitions_def=PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[dg.AssetCheckSpec("rows_ok", asset=KEY, blocking=True)],
    )
    def feed(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        if fail:
            raise RuntimeError("landing file rejected")
        return dg.MaterializeResult(
            metadata={"rows": len(context.partition_keys)},
            check_results=[dg.AssetCheckResult(check_name="rows_ok", passed=True)],
        )

    @dg.asset(deps=[feed])
    def mart() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": 1})

    return dg.Definitions(assets=[feed, mart])


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "50")
    found = {}
    for name, yaml in (("stock", STOCK_YAML), ("fast", DAGSTER_YAML)):
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml)
        found[name] = home
    yield found


def _run(home: Path, fail: bool, first: str, last: str) -> dict[str, object]:
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            job = _definitions(fail).resolve_implicit_global_asset_job_def()
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
            )
            storage = instance.event_log_storage
            records = instance.get_records_for_run(result.run_id, limit=10_000).records
            planned = instance.get_event_records(
                dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, KEY),
                limit=10_000,
            )
            check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(KEY, "rows_ok")]
            ).get(dg.AssetCheckKey(KEY, "rows_ok"))
            history = storage.get_asset_check_execution_history(
                dg.AssetCheckKey(KEY, "rows_ok"), limit=100
            )
            asset_record = instance.get_asset_records([KEY])[0].asset_entry
            return {
                "storage": type(storage).__name__,
                # the asset-key row: which event is the latest materialization, which run last
                # touched the asset (the UI's asset list and the sensors read these)
                "last_materialization_storage_id": asset_record.last_materialization_storage_id,
                "last_run_is_this_run": asset_record.last_run_id == result.run_id,
                # one row per planned check evaluation (written with the run's planned events),
                # updated by the evaluation: what the UI's check history lists
                "check_history": [
                    (str(record.status), record.partition, record.event is not None)
                    for record in history
                ],
                "success": result.success,
                "materialized": sorted(instance.get_materialized_partitions(KEY)),
                "materializations": len(instance.fetch_materializations(KEY, limit=10_000).records),
                "planned": sorted(r.partition_key for r in planned),
                "run_event_types": sorted(
                    str(r.event_log_entry.dagster_event_type) for r in records
                ),
                "check_status": check.status if check else None,
                "mart_materialized": instance.get_latest_materialization_event(dg.AssetKey("mart"))
                is not None,
                # what the UI's partition bar shows: materialized, failed, in progress
                "status": {
                    key: str(status)
                    for key, status in (
                        instance.get_status_by_partition(
                            KEY, PARTITIONS.get_partition_keys(), PARTITIONS
                        )
                        or {}
                    ).items()
                },
            }
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def test_the_cli_instance_uses_the_batched_storage(homes: dict[str, Path]) -> None:
    assert _run(homes["fast"], False, "p000", "p009")["storage"] == (
        FastSqliteEventLogStorage.__name__
    )
    assert _run(homes["stock"], False, "p000", "p009")["storage"] == "SqliteEventLogStorage"


def test_a_backfill_is_recorded_as_by_the_stock_storage(homes: dict[str, Path]) -> None:
    # 120 partitions: planned and materialization events span three batches of 50.
    stock = _run(homes["stock"], False, "p000", "p119")
    fast = _run(homes["fast"], False, "p000", "p119")
    assert fast["success"] and stock["success"]
    assert len(fast["materialized"]) == 120 and fast["materializations"] == 120
    assert len(fast["planned"]) == 120
    assert fast["mart_materialized"] and fast["check_status"] is not None
    assert {k: v for k, v in fast.items() if k != "storage"} == {
        k: v for k, v in stock.items() if k != "storage"
    }


def test_a_failed_backfill_is_recorded_as_by_the_stock_storage(homes: dict[str, Path]) -> None:
    for home in homes.values():
        _run(home, False, "p000", "p009")
    stock = _run(homes["stock"], True, "p005", "p014")
    fast = _run(homes["fast"], True, "p005", "p014")
    assert not fast["success"]
    assert fast["materialized"] == [f"p{i:03d}" for i in range(10)]  # the first run's
    # the planned events mark every partition of the failed range failed in the UI
    failed = sorted(k for k, status in fast["status"].items() if status.endswith("FAILED"))
    assert failed == [f"p{i:03d}" for i in range(5, 15)]
    assert {k: v for k, v in fast.items() if k != "storage"} == {
        k: v for k, v in stock.items() if k != "storage"
    }


def test_a_long_lived_process_keeps_a_bounded_number_of_shards_open(tmp_path: Path) -> None:
    # A webserver shows many runs: each run shard gets an engine, the oldest are closed.
    storage = FastSqliteEventLogStorage(str(tmp_path))
    try:
        for i in range(MAX_OPEN_SHARDS + 5):
            with storage.run_connection(f"run{i}") as conn:
                conn.exec_driver_sql("select 1")
        assert len(storage._engines) == MAX_OPEN_SHARDS
        assert "run0" not in storage._engines
        with storage.run_connection("run0") as conn:  # reopened on demand
            assert conn.exec_driver_sql("select 1").scalar() == 1
    finally:
        storage.dispose()
