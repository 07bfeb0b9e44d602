"""The pure parts of `make bench` (the benchmark itself never runs in the test suite), and the
floor's semantics: bench/floor.sql over the shared tiny sample equals its marts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bench import harness
from orchestration import cli

REPORT = {
    "run_id": "abcdef12-0000",
    "ok": True,
    "wall_seconds": 30.0,
    "step_seconds": {
        "raw__orders": 2.0,
        "raw__events": 4.0,
        "dbt_models": 15.0,
        "gx_raw__orders": 0.5,
        "gx_dbt_models": 2.5,
        "serving__marts": 1.0,
    },
    "asset_numbers": {
        "raw/orders": {"rows_read": 1000, "dagster/row_count": 900},
        "raw/events": {"rows_read": 8000, "dagster/row_count": 8000},
    },
}
RUN_RESULTS = {
    "elapsed_time": 12.0,
    "results": [
        {"unique_id": "model.ecom_warehouse.int_sessions", "execution_time": 6.0},
        {"unique_id": "model.ecom_warehouse.daily_sales", "execution_time": 1.0},
        {"unique_id": "test.ecom_warehouse.not_null_x", "execution_time": 0.25},
        {"unique_id": "unit_test.ecom_warehouse.daily_sales.t", "execution_time": 0.75},
    ],
}
NODES = {
    "model.ecom_warehouse.int_sessions": "intermediate.int_sessions",
    "model.ecom_warehouse.daily_sales": "marts.daily_sales",
}
ROWS = {"intermediate.int_sessions": 3000, "marts.daily_sales": 365, "raw.orders": 900}


def _by_name(stages: list[harness.Stage]) -> dict[str, harness.Stage]:
    return {s.name: s for s in stages}


def test_build_stages_covers_every_stage_with_rows_and_rates() -> None:
    stages = _by_name(harness.build_stages(REPORT, RUN_RESULTS, ROWS, NODES, wall_seconds=40.0))
    assert stages["ingest orders"].rows == 1000  # rows read, not only the rows kept
    assert stages["ingest orders"].rows_per_s == 500
    assert stages["dbt intermediate.int_sessions"].rows == 3000
    assert stages["dbt intermediate.int_sessions"].rows_per_s == 500
    assert stages["dbt tests (sum)"].seconds == 1.0
    assert stages["dbt start-up (step − dbt elapsed)"].seconds == 3.0
    assert stages["gx raw.orders"].rows == 900
    assert stages["gx dbt_models"].rows is None
    assert stages["publish serving__marts"].rows == 365
    assert stages["dagster overhead (wall − steps)"].seconds == 15.0
    assert stages["total (wall)"].seconds == 40.0


def test_summarize_adds_up_kinds_and_the_gx_share() -> None:
    stages = harness.build_stages(REPORT, RUN_RESULTS, ROWS, NODES, wall_seconds=40.0)
    summary = harness.summarize(stages)
    assert summary["ingest"] == 6.0
    assert summary["gx"] == 3.0
    assert summary["dbt"] == 15.0
    assert summary["overhead"] == 18.0  # dbt start-up 3 + dagster 15
    assert summary["total"] == 40.0
    assert summary["gx_share"] == 0.075


def test_build_stages_without_dbt_results_still_reports_the_step() -> None:
    stages = _by_name(harness.build_stages(REPORT, None, {}, None, wall_seconds=None))
    assert stages["dbt build step"].seconds == 15.0
    assert "total (wall)" not in stages
    assert stages["ingest events"].rows == 8000


def test_format_table_has_a_line_per_stage() -> None:
    stages = harness.build_stages(REPORT, RUN_RESULTS, ROWS, NODES, wall_seconds=40.0)
    lines = harness.format_table(stages).splitlines()
    assert lines[0].split() == ["stage", "seconds", "rows", "rows/s"]
    assert len(lines) == len(stages) + 1
    assert any(line.startswith("ingest orders") and "1,000" in line for line in lines)


def _result(scale: float, started_at: str, commit: str, days: int = 365) -> harness.BenchResult:
    stages = harness.build_stages(REPORT, RUN_RESULTS, ROWS, NODES, wall_seconds=40.0)
    return harness.BenchResult(
        schema_version=harness.SCHEMA_VERSION,
        scale=scale,
        seed=42,
        days=days,
        start=None,
        started_at=started_at,
        commit=commit,
        dirty=False,
        host={"cpus": 2},
        settings={"duckdb_memory_limit": "2GB", "duckdb_threads": 2},
        generate={"seconds": 10.0, "rows": 5, "reused": False},
        full={"ok": True, "seconds": 40.0, "stages": [s.to_json() for s in stages]},
        incremental={"available": False, "reason": "incremental: not available"},
        floor={"seconds": 4.0, "ratio_full_to_floor": 10.0},
    )


def test_result_file_name_and_json_schema(tmp_path: Path) -> None:
    path = harness.write_result(_result(0.1, "2026-11-26T20:00:00+00:00", "abc1234"), tmp_path)
    assert path.name == "sf0.1.json"
    document = json.loads(path.read_text())
    assert document["schema_version"] == 3
    assert document["started_at"] == "2026-11-26T20:00:00+00:00"
    assert (document["commit"], document["dirty"]) == ("abc1234", False)
    assert set(document) >= {"scale", "generate", "full", "incremental", "floor", "plain_read"}
    for stage in document["full"]["stages"]:
        assert set(stage) == {"name", "kind", "seconds", "rows", "rows_per_s"}
    assert harness.scale_label(1.0) == "sf1"
    assert harness.scale_label(0.01) == "sf0.01"


def test_a_new_run_replaces_the_latest_result_of_its_scale(tmp_path: Path) -> None:
    harness.write_result(_result(1.0, "2026-11-26T20:00:00+00:00", "aaaaaaa"), tmp_path)
    harness.write_result(_result(0.1, "2026-11-26T21:00:00+00:00", "aaaaaaa"), tmp_path)
    harness.write_result(_result(1.0, "2026-11-27T20:00:00+00:00", "bbbbbbb"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sf0.1.json", "sf1.json"]
    assert json.loads((tmp_path / "sf1.json").read_text())["commit"] == "bbbbbbb"


def test_a_run_of_other_than_365_days_has_a_result_of_its_own(tmp_path: Path) -> None:
    harness.write_result(_result(0.01, "2026-11-26T20:00:00+00:00", "aaaaaaa"), tmp_path)
    harness.write_result(_result(0.01, "2026-11-26T21:00:00+00:00", "aaaaaaa", 3000), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sf0.01-d3000.json", "sf0.01.json"]
    assert json.loads((tmp_path / "sf0.01-d3000.json").read_text())["days"] == 3000


def test_ingest_beside_the_plain_read_per_feed_and_in_total() -> None:
    stages = [s.to_json() for s in harness.build_stages(REPORT, None, {}, None)]
    read = {
        "orders": {"files": 3, "rows": 1000, "seconds": 0.5},
        "events": {"files": 3, "rows": 8000, "seconds": 1.5},
        "refunds": {"files": 1, "rows": 10, "seconds": 0.25},  # no ingest stage
    }
    plain = harness.ingest_vs_plain(stages, read)
    assert plain["feeds"]["orders"] == {
        **read["orders"],
        "ingest_rows": 1000,
        "ingest_seconds": 2.0,
        "ratio": 4.0,
    }
    assert plain["feeds"]["events"]["ratio"] == 2.67
    assert plain["feeds"]["refunds"]["ratio"] is None
    assert (plain["seconds"], plain["ingest_seconds"]) == (2.25, 6.0)
    assert plain["ratio_ingest_to_plain"] == 2.67
    lines = harness.format_plain_read(plain).splitlines()
    assert len(lines) == 4 and lines[1].split() == ["orders", "3", "1,000", "0.50", "2.00", "4.0"]


def test_growth_from_one_result_to_another_largest_first() -> None:
    def result(seconds: dict[str, float]) -> dict:
        return {"full": {"stages": [{"name": n, "seconds": s} for n, s in seconds.items()]}}

    small = result({"ingest orders": 1.0, "dbt marts.a": 2.0, "total (wall)": 10.0})
    large = result({"ingest orders": 12.0, "dbt marts.a": 4.0, "dbt marts.b": 1.0})
    assert harness.growth(small, large) == {
        "dbt marts.b": None,  # not in the smaller run
        "ingest orders": 12.0,
        "dbt marts.a": 2.0,
    }


def test_git_state_names_the_checkout_and_nothing_outside_one(tmp_path: Path) -> None:
    commit, dirty = harness.git_state(harness.settings.REPO_ROOT)
    assert commit and isinstance(dirty, bool)
    assert harness.git_state(tmp_path) == (None, None)


def test_floor_sql_fills_every_placeholder(tmp_path: Path) -> None:
    sql = harness.floor_sql(tmp_path, harness.dbt_business_vars())
    for placeholder in ("{landing}", "{business_timezone}", "{session_timeout_minutes}"):
        assert placeholder not in sql
    assert "Asia/Shanghai" in sql
    assert f"'{tmp_path.resolve()}/orders/dt=*/*.csv'" in sql


def test_run_measured_sees_the_memory_of_a_child_process(tmp_path: Path) -> None:
    # The child allocates 200 MiB in a grandchild: the sampled tree sum must see it.
    grandchild = "b = bytearray(200 * 2**20); import time; time.sleep(1.5)"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    measured = harness.run_measured(
        [sys.executable, "-c", child], dict(os.environ), tmp_path / "log.txt", interval=0.05
    )
    assert measured.returncode == 0
    assert measured.peak_rss_tree_bytes > 200 * 2**20
    assert measured.max_rss_single_bytes > 200 * 2**20
    assert measured.seconds >= 1.5


def test_floor_equals_the_marts_on_the_sample(sample_run, tmp_path: Path) -> None:
    database = tmp_path / "floor.duckdb"
    harness.run_floor(sample_run.landing, database)
    comparison = harness.compare_floor(database, sample_run.warehouse)
    assert comparison["equal"], comparison
    traffic = comparison["marts"]["daily_traffic"]["totals"]
    assert traffic["sessions"]["floor"] == traffic["sessions"]["mart"] > 0


def test_the_plain_read_reads_the_rows_ingest_reads(sample_run, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    cli.write_report_json(sample_run.report, path)
    stages = harness.build_stages(json.loads(path.read_text()), None, {}, None)
    database = tmp_path / "plain.duckdb"
    read = harness.plain_read(sample_run.landing, database, "9999-12-31")
    plain = harness.ingest_vs_plain([s.to_json() for s in stages], read)
    assert set(plain["feeds"]) == set(harness.contract.FEEDS)
    for feed, numbers in plain["feeds"].items():
        assert numbers["rows"] == numbers["ingest_rows"] > 0, feed
    assert not list(tmp_path.glob("plain.duckdb*"))  # the database is gone
    first = min(f.partition_dt for f in harness.discover_feed_files(sample_run.landing, "orders"))
    orders = harness.plain_read(sample_run.landing, database, first.isoformat())["orders"]
    assert orders["files"] == 1


def test_run_report_json_has_steps_and_rows(sample_run, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    cli.write_report_json(sample_run.report, path)
    document = json.loads(path.read_text())
    assert document["ok"] is True, {k: document[k] for k in ("failed_steps", "failed_checks")}
    assert document["step_seconds"]["dbt_models"] > 0
    assert set(document["stage_seconds"]) >= {"ingest", "dbt", "gx", "publish"}
    orders = document["asset_numbers"]["raw/orders"]
    assert orders["rows_read"] >= orders["dagster/row_count"] > 0


def test_a_run_keeps_its_partial_parse_for_the_next(tmp_path: Path, monkeypatch) -> None:
    from orchestration import settings
    from orchestration.assets.dbt import dbt_resource, keep_partial_parse

    project = tmp_path / "dbt_project"
    (project / "target").mkdir(parents=True)
    (project / "target" / "partial_parse.msgpack").write_bytes(b"parsed by make prepare")
    run_target = project / "target" / "dbt_models-abc1234-0000000"
    run_target.mkdir()
    (run_target / "partial_parse.msgpack").write_bytes(b"parsed by the run")
    monkeypatch.setattr(settings, "DBT_PROJECT_DIR", project)
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    keep_partial_parse(run_target)
    assert (project / "target" / "partial_parse.msgpack").read_bytes() == b"parsed by the run"
    assert sorted(p.name for p in (project / "target").iterdir()) == [
        "dbt_models-abc1234-0000000",
        "partial_parse.msgpack",
    ]
    keep_partial_parse(tmp_path / "missing")  # nothing to keep: no error
    monkeypatch.undo()
    # `make prepare` parses for the target the run names (part of dbt's partial-parse hash).
    assert dbt_resource().target == settings.get().dbt_target
