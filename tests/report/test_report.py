"""The daily KPI report: written with each publish, swapped in and rolled back with it, never
stopping a publish when it cannot be drawn; its headline arithmetic; its CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import SampleRun

from orchestration import serving
from orchestration.assets.publish import PUBLISH_KEY, write_serving_copy
from orchestration.report import charts, data, kpis, page, write_report
from orchestration.report.data import ReportData
from tests.report.handmade import build_serving


def _marts(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall()
    ]


def test_the_pipeline_publishes_the_report_with_its_version(sample_run: SampleRun) -> None:
    report = sample_run.serving / serving.REPORT
    version = serving.current_version(sample_run.serving)
    kept = serving.version_dir(sample_run.serving, version) / serving.REPORT
    assert report.read_bytes() == kept.read_bytes()
    text = report.read_text(encoding="utf-8")
    assert f"publish version {version}" in text
    assert "<script src" not in text and "<link" not in text  # everything inline
    assert text.count('class="tile"') == 6
    collapse = sample_run.manifest["planted"]["product_collapse"]  # flagged by the mart
    assert f"<td>{collapse['date']}</td><td>{collapse['product_id']}</td>" in text
    event = sample_run.instance.get_latest_materialization_event(PUBLISH_KEY)
    metadata = event.asset_materialization.metadata
    assert metadata["report"].value == str(report)
    assert "report_error" not in metadata


def test_a_report_failure_does_not_stop_the_publish_and_rollback_restores_reports(
    sample_run: SampleRun, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_run.warehouse, warehouse)
    root = tmp_path / "serving"
    conn = duckdb.connect(str(warehouse))
    try:
        marts = _marts(conn)
        good = write_serving_copy(conn, root, "run-good", marts, report=True)
        assert good.report == root / serving.REPORT and good.report_error is None
        good_report = good.report.read_bytes()

        # Without daily_funnel the report cannot be drawn; the publish goes ahead regardless.
        bad = write_serving_copy(
            conn, root, "run-bad", [m for m in marts if m != "daily_funnel"], report=True
        )
    finally:
        conn.close()
    assert bad.version == good.version + 1
    assert bad.report is None and "daily_funnel" in bad.report_error
    assert serving.current_version(root) == bad.version
    assert not (root / serving.REPORT).exists()  # no stale report next to the new publish
    assert not (serving.version_dir(root, bad.version) / serving.REPORT).exists()

    assert serving.rollback(root) == good.version
    assert (root / serving.REPORT).read_bytes() == good_report


def test_the_cli_writes_a_report_of_a_serving_folder(sample_run: SampleRun, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.report", "--serving-dir", str(sample_run.serving),
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 100_000  # the Vega libraries are inlined
    assert "Daily KPI report" in out.read_text(encoding="utf-8")

    missing = subprocess.run(
        [sys.executable, "-m", "orchestration.report", "--serving-dir", str(tmp_path / "none"),
         "--out", str(tmp_path / "x.html")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and "no published database" in missing.stderr


def _report_data(days: int = 14) -> ReportData:
    """Two weeks by hand: the second week doubles GMV and orders, conversion 2 % -> 3 %."""
    start = date(2025, 3, 3)
    dates = [start + timedelta(days=i) for i in range(days)]
    second = [i >= 7 for i in range(days)]
    sales = pd.DataFrame({
        "business_date": dates,
        "gmv": [200.0 if s else 100.0 for s in second],
        "paid_orders": [4 if s else 2 for s in second],
        "paid_revenue": [180.0 if s else 100.0 for s in second],
    })  # fmt: skip
    traffic = pd.DataFrame({
        "business_date": dates,
        # weighted by sessions: (0.02*100*6 + 0.08*100*1) / 700 vs 0.03 every day
        "sessions": [100] * days,
        "session_conversion_rate": [0.03 if s else (0.08 if i == 0 else 0.02)
                                    for i, s in enumerate(second)],
    })  # fmt: skip
    satisfaction = pd.DataFrame({
        "business_date": dates,
        "review_count": [0 if i == 8 else 2 for i in range(days)],
        "avg_rating": [None if i == 8 else 4.0 for i in range(days)],
    })  # fmt: skip
    monthly = pd.DataFrame({
        "month": [date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)],
        "buyers": [10, 20, 0],
        "repeat_buyers": [2, 2, 0],
        "repurchase_rate": [0.2, 0.1, None],
    })  # fmt: skip
    empty = pd.DataFrame()
    return ReportData(
        version=1, published_at=None, run_id="r", sales=sales, traffic=traffic,
        funnel=empty, cohorts=empty, segments=empty, flows=empty, monthly=monthly,
        satisfaction=satisfaction, anomalies=empty, product_alerts=empty,
    )  # fmt: skip


def test_headlines_compare_the_last_seven_days_with_the_seven_before() -> None:
    tiles = {h.key: h for h in kpis.headlines(_report_data(), date(2025, 3, 16))}
    assert list(tiles) == [
        "gmv", "paid_orders", "session_conversion_rate", "aov", "repurchase_rate", "avg_rating",
    ]  # fmt: skip
    assert (tiles["gmv"].current, tiles["gmv"].previous) == (1400.0, 700.0)
    assert tiles["gmv"].change == pytest.approx(1.0) and tiles["gmv"].trend == "up"
    assert tiles["paid_orders"].current == 28
    conversion = tiles["session_conversion_rate"]
    assert conversion.current == pytest.approx(0.03)
    assert conversion.previous == pytest.approx((0.08 + 6 * 0.02) / 7)
    assert tiles["aov"].current == pytest.approx(180 / 4)
    assert tiles["aov"].previous == pytest.approx(50.0)
    assert tiles["aov"].trend == "down"
    # repurchase: the newest month WITH buyers (April has none) against the month before
    assert (tiles["repurchase_rate"].current, tiles["repurchase_rate"].previous) == (0.1, 0.2)
    assert tiles["avg_rating"].current == pytest.approx(4.0)  # the day without reviews is ignored
    assert tiles["avg_rating"].trend == "flat"


def test_a_single_week_has_no_previous_period() -> None:
    tiles = {h.key: h for h in kpis.headlines(_report_data(days=7), date(2025, 3, 9))}
    assert tiles["gmv"].previous is None and tiles["gmv"].trend == "none"
    assert kpis.format_value(None, "money") == "n/a"


def test_a_report_without_events_says_so_and_formats_its_numbers(tmp_path: Path) -> None:
    """A BYOD-like publish: EUR, no `events` feed, a WARN check failed in the publishing run."""
    out = tmp_path / "report.html"
    write_report(build_serving(tmp_path), out)
    text = out.read_text(encoding="utf-8").split("<script>")[0]  # the page, not the Vega code
    for chart in ("conversion", "funnel"):
        assert f'id="note-{chart}">Not drawn: the events feed is not delivered.</p>' in text
        assert f'id="chart-{chart}"' not in text
    assert '<div class="value">EUR 1,234,788.00</div>' in text  # GMV of the three days
    assert '<div class="value">50.0%</div>' in text  # repurchase rate, a percentage
    # the anomaly table: money with its currency, a rate as a percentage, no 3.706e+04
    assert "<td>EUR 37,060.50</td><td>EUR 1,234.00</td>" in text
    assert "<td>11.8%</td><td>90.0%</td>" in text and "e+0" not in text
    assert "<td>sku7</td><td>1</td><td>14.5</td><td>-6.8</td>" in text  # a product sales alert
    # run-2 published: its WARN failure shows; run-1's ERROR failure is another run's
    assert '<p id="checks" class="failed">1 of 3 checks failed: raw/orders freshness (WARN)' in text

    specs = charts.all_charts(data.load(tmp_path / "serving.duckdb"), date(2025, 3, 3))
    assert list(specs) == ["gmv", "retention", "tiers", "lifecycle", "anomalies"]
    x = specs["gmv"]["layer"][0]["encoding"]["x"]  # days, never hours
    assert x["timeUnit"] == "yearmonthdate" and x["axis"] == {"format": "%b %d", "tickCount": 2}
    assert specs["gmv"]["layer"][0]["encoding"]["y"]["title"] == "GMV (EUR)"


def test_a_serving_file_without_ops_still_draws(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report(build_serving(tmp_path, ops=False), out)
    text = out.read_text(encoding="utf-8").split("<script>")[0]
    assert 'id="note-funnel">Not drawn: no data.</p>' in text
    assert '<div class="value">1,234,788.00</div>' in text
    assert '<p id="checks">Checks: no data' in text


def test_the_vega_bundle_is_built_once_per_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first report of an environment builds the Vega bundle with vl-convert and keeps it;
    a later process reads the kept file instead of rebuilding it."""
    monkeypatch.setattr(page.sys, "prefix", str(tmp_path))
    page.vega_bundle.cache_clear()
    built = page.vega_bundle()
    kept = list((tmp_path / "share" / "ecom-warehouse").glob("vega-bundle-*.js"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == built

    def no_rebuild(**_: object) -> str:
        raise AssertionError("the kept bundle should have been read")

    monkeypatch.setattr(page.vl_convert, "javascript_bundle", no_rebuild)
    page.vega_bundle.cache_clear()  # a new process
    assert page.vega_bundle() == built
    page.vega_bundle.cache_clear()
