"""The published report draws in a real headless Chromium, offline.

Chromium comes from the OS (Debian package `chromium`, which `make test` installs); Playwright's
Python package drives it (its wheel brings the driver; `playwright install` is never run).
Every network request is refused: the page must draw from the file alone. Then: no JS error, no
console error or warning, each chart's SVG has marks, the anomaly points on the GMV and
conversion charts are exactly the flagged rows, the six headline tiles show arrows, and a
screenshot is kept in the test's tmp dir. No Chromium is a failure, not a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import SampleRun

from orchestration import serving

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHARTS = ["gmv", "conversion", "funnel", "retention", "tiers", "lifecycle", "anomalies"]

# Per chart: SVG elements of the data marks (Vega class role-mark; axes and legends are other
# roles): all marks, the symbols (points) and the rects (bars, heat-map cells).
COUNT_MARKS = """() => Object.fromEntries(
  Array.from(document.querySelectorAll('.chart')).map(div => [div.id.replace('chart-', ''), {
    rendered: div.dataset.rendered === 'true',
    svgs: div.querySelectorAll('svg').length,
    marks: div.querySelectorAll('svg g.role-mark > *').length,
    symbols: div.querySelectorAll('svg g.mark-symbol.role-mark > path').length,
    rects: div.querySelectorAll('svg g.mark-rect.role-mark > path').length,
  }]))"""


def chromium_path() -> str:
    """The system Chromium; override with env CHROMIUM."""
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail(
            "Chromium is not installed, so the report cannot be checked in a browser: "
            "`make test` installs it (Debian/Ubuntu: apt-get install chromium), or set CHROMIUM"
        )
    return path


def test_the_report_draws_in_headless_chromium(sample_run: SampleRun, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    report = sample_run.serving / serving.REPORT
    database = sample_run.serving / serving.DATABASE
    anomalies = dict(
        sample_run.query(
            "SELECT kpi, count(*) FROM marts.kpi_anomalies WHERE is_anomaly GROUP BY kpi",
            db=database,
        )
    )
    ((tiers, cohort_cells),) = sample_run.query(
        "SELECT (SELECT count(*) FROM marts.segment_summary WHERE dimension = 'member_tier'), "
        "(SELECT count(*) FROM marts.purchase_cohorts)",
        db=database,
    )
    console: list[str] = []
    page_errors: list[str] = []
    outside: list[str] = []
    screenshot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: page_errors.append(str(e)))

            def refuse(route) -> None:
                if not route.request.url.startswith("file://"):
                    outside.append(route.request.url)
                    route.abort()
                else:
                    route.continue_()

            page.route("**/*", refuse)
            page.goto(report.as_uri(), wait_until="load")
            page.evaluate("window.reportReady")
            chart_errors = page.evaluate("window.reportErrors")
            drawn = page.evaluate(COUNT_MARKS)
            tiles = page.evaluate(
                "Array.from(document.querySelectorAll('.tile .trend')).map(t => t.textContent)"
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    print(f"\nscreenshot: {screenshot}\nmarks per chart: {drawn}")
    assert page_errors == [] and chart_errors == []
    assert [m for m in console if m.startswith(("error", "warning"))] == []
    assert outside == []  # nothing fetched: the libraries and the data are in the file
    assert list(drawn) == CHARTS
    for chart, counts in drawn.items():
        assert counts["rendered"] and counts["svgs"] == 1, (chart, counts)
        assert counts["marks"] >= (1 if chart != "anomalies" else 0), (chart, counts)
    # One bar per funnel step and per tier, one cell per cohort row.
    assert drawn["funnel"]["rects"] == 5
    assert drawn["tiers"]["rects"] == tiers
    assert drawn["retention"]["rects"] == cohort_cells
    # The red diamonds are the flagged days, no more, no less.
    assert drawn["gmv"]["symbols"] == anomalies.get("gmv", 0)
    assert drawn["conversion"]["symbols"] == anomalies.get("session_conversion_rate", 0)
    assert drawn["anomalies"]["symbols"] == sum(anomalies.values())
    assert len(tiles) == 6 and all(t[0] in "▲▼▶–" for t in tiles), tiles
    assert screenshot.stat().st_size > 50_000
