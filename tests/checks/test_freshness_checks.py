"""Landing freshness checks over a tmp landing folder, with an injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.ingest import LandingResource
from orchestration.checks.freshness_checks import (
    build_freshness_checks,
    freshness_result,
    newest_partition,
)

NOW = datetime(2025, 3, 12, 8, 30, tzinfo=UTC)


def _deliver(root: Path, feed: str, dt: str, name: str = "part.csv") -> None:
    part = root / feed / f"dt={dt}"
    part.mkdir(parents=True, exist_ok=True)
    (part / name).write_text("id\n1\n")


def _evaluate(root: Path, feed: str) -> dg.AssetCheckResult:
    return freshness_result(feed, newest_partition(root, feed), NOW.date())


def _max_lag_days(root: Path, feed: str) -> int:
    return _evaluate(root, feed).metadata["max_lag_days"].value


@pytest.fixture(autouse=True)
def _no_lag_env(monkeypatch: pytest.MonkeyPatch):
    for var in ("FRESHNESS_MAX_LAG_DAYS", "FRESHNESS_MAX_LAG_DAYS_ORDERS"):
        monkeypatch.delenv(var, raising=False)


def test_newest_partition_ignores_empty_hidden_and_stray_folders(tmp_path: Path):
    _deliver(tmp_path, "orders", "2025-03-01")
    _deliver(tmp_path, "orders", "2025-03-05")
    (tmp_path / "orders" / "dt=2025-03-11").mkdir()  # export still writing: empty
    _deliver(tmp_path, "orders", "2025-03-10", name=".part.csv.tmp")  # only a temp file
    (tmp_path / "orders" / "notes").mkdir()
    (tmp_path / "orders" / "dt=2025-02-30").mkdir()  # not a date
    assert newest_partition(tmp_path, "orders") == date(2025, 3, 5)
    assert newest_partition(tmp_path, "payments") is None


@pytest.mark.parametrize(
    ("newest", "passed", "lag"),
    [("2025-03-12", True, 0), ("2025-03-10", True, 2), ("2025-03-09", False, 3)],
)
def test_lag_at_the_default_limit_of_two_days(tmp_path: Path, newest, passed, lag):
    _deliver(tmp_path, "orders", "2025-01-01")
    _deliver(tmp_path, "orders", newest)
    result = _evaluate(tmp_path, "orders")
    limits = {k: result.metadata[k].value for k in ("lag_days", "max_lag_days")}
    assert (result.passed, limits) == (passed, {"lag_days": lag, "max_lag_days": 2})


def test_lag_limit_from_env_global_and_per_feed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _deliver(tmp_path, "orders", "2025-03-07")
    monkeypatch.setenv("FRESHNESS_MAX_LAG_DAYS", "5")
    assert _evaluate(tmp_path, "orders").passed
    monkeypatch.setenv("FRESHNESS_MAX_LAG_DAYS_ORDERS", "1")
    assert _max_lag_days(tmp_path, "orders") == 1 and _max_lag_days(tmp_path, "payments") == 5
    assert not _evaluate(tmp_path, "orders").passed
    monkeypatch.setenv("FRESHNESS_MAX_LAG_DAYS_ORDERS", "-1")
    with pytest.raises(ValueError, match="FRESHNESS_MAX_LAG_DAYS_ORDERS"):
        _evaluate(tmp_path, "orders")


def test_a_feed_without_any_partition_fails(tmp_path: Path):
    result = _evaluate(tmp_path, "orders")
    assert not result.passed and result.metadata["lag_days"].value == -1
    assert "no landing partition" in result.description


def test_checks_run_alone_on_daily_partitioned_assets_and_never_fail_the_run(tmp_path: Path):
    """The raw assets become daily-partitioned (branch `partitions`): the unpartitioned checks
    run in a checks-only job without a partition key, and a stale feed is a WARN, not a failure."""
    daily = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=1)

    @dg.multi_asset(
        specs=[dg.AssetSpec(["raw", f]) for f in ("orders", "payments", "events")],
        partitions_def=daily,
    )
    def raw_feeds():
        raise AssertionError("the freshness job must not materialize anything")

    _deliver(tmp_path, "orders", "2025-03-11")
    _deliver(tmp_path, "payments", "2025-02-01")
    checks = build_freshness_checks(["orders", "payments", "events"], clock=lambda: NOW)
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks.check_keys))
    defs = dg.Definitions(
        assets=[raw_feeds],
        asset_checks=[checks],
        jobs=[job],
        resources={"landing": LandingResource(root=str(tmp_path))},
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    assert result.success
    by_feed = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert {f: e.passed for f, e in by_feed.items()} == {
        "orders": True,
        "payments": False,
        "events": False,
    }
    payments = by_feed["payments"]
    assert payments.severity == dg.AssetCheckSeverity.WARN and payments.blocking is False
    assert payments.metadata["lag_days"].value == 39
    assert payments.metadata["newest_partition"].value == "2025-02-01"
    assert by_feed["events"].metadata["observed_value"].value == "no partition"


def test_freshness_checks_are_apart_from_the_pipeline():
    from orchestration.contract import FEEDS
    from orchestration.definitions import defs
    from orchestration.jobs import FRESHNESS_CHECKS_JOB, FULL_PIPELINE_JOB

    graph = defs.resolve_asset_graph()
    in_pipeline = FULL_PIPELINE_JOB.selection.resolve_checks(graph)
    freshness = FRESHNESS_CHECKS_JOB.selection.resolve_checks(graph)
    assert {k.asset_key.path[-1] for k in freshness} == set(FEEDS)
    assert not in_pipeline & freshness
    assert all(not graph.get_check_spec(k).blocking for k in freshness)
    # everything else is still in the pipeline
    assert in_pipeline | freshness == set(graph.asset_check_keys)
    schedule = defs.resolve_schedule_def("freshness_checks_hourly")
    assert schedule.job_name == "freshness_checks"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_undelivered_feeds_are_not_judged_and_the_config_sets_the_lag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Deployment config (orchestration/deployment.py): a feed the shop does not deliver passes
    with `delivered: false`; freshness_max_lag_days sets the default lag."""
    config = tmp_path / "warehouse.yaml"
    config.write_text("feeds: [orders]\nfreshness_max_lag_days: 3\n")
    monkeypatch.setenv("WAREHOUSE_CONFIG", str(config))
    assert _max_lag_days(tmp_path, "orders") == 3
    _deliver(tmp_path / "landing", "orders", "2025-03-09")
    checks = build_freshness_checks(["orders", "events"], clock=lambda: NOW)
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks.check_keys))
    defs = dg.Definitions(
        assets=[dg.AssetSpec(["raw", "orders"]), dg.AssetSpec(["raw", "events"])],
        asset_checks=[checks],
        jobs=[job],
        resources={"landing": LandingResource(root=str(tmp_path / "landing"))},
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    by_feed = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert by_feed["orders"].passed  # 3 days old, limit 3 days
    assert by_feed["events"].passed
    assert by_feed["events"].metadata["delivered"].value is False
