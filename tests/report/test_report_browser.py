"""The published report draws in a real headless Chromium, offline.

Chromium comes from the OS (Debian package `chromium`, which `make test` installs); Playwright's
Python package drives it (its wheel brings the driver; `playwright install` is never run).
Every network request is refused: the page must draw from the file alone. Then: no JS error, no
console error or warning, each chart's SVG has marks, the anomaly points are the flagged rows,
the tiles show arrows, money with its currency and rates as percentages, the checks line; a
report without `events` says so instead of drawing. Screenshots stay in the tests' tmp dirs.
No Chromium is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import SampleRun

from orchestration import serving
from orchestration.report import write_report
from tests.report.handmade import build_serving

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


def open_report(report: Path, screenshot: Path) -> dict:
    """Open `report` in Chromium with the network refused; what the page logged and shows."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"console": [], "page_errors": [], "outside": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))

            def refuse(route) -> None:
                if not route.request.url.startswith("file://"):
                    seen["outside"].append(route.request.url)
                    route.abort()
                else:
                    route.continue_()

            page.route("**/*", refuse)
            page.goto(report.as_uri(), wait_until="load")
            page.evaluate("window.reportReady")
            seen["chart_errors"] = page.evaluate("window.reportErrors")
            seen["drawn"] = page.evaluate(COUNT_MARKS)
            seen["tiles"] = page.evaluate(
                "Array.from(document.querySelectorAll('.tile')).map(t => t.innerText)"
            )
            seen["checks"] = page.inner_text("#checks")
            seen["notes"] = page.evaluate(
                "Object.fromEntries(Array.from(document.querySelectorAll('.note'))"
                ".map(p => [p.id.replace('note-', ''), p.innerText]))"
            )
            seen["svg_text"] = page.evaluate(
                "Array.from(document.querySelectorAll('svg text')).map(t => t.textContent)"
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"\nscreenshot: {screenshot}\nmarks per chart: {seen['drawn']}")
    # Not a single warning or error: no "Infinite extent" from a chart drawn over no rows.
    assert seen["page_errors"] == [] and seen["chart_errors"] == []
    assert [m for m in seen["console"] if m.startswith(("error", "warn"))] == []
    assert seen["outside"] == []  # nothing fetched: the libraries and the data are in the file
    assert [t for t in seen["svg_text"] if re.search(r"\de[+-]?\d", t)] == []  # no 2e+2 labels
    assert screenshot.stat().st_size > 20_000
    return seen


def test_the_report_draws_in_headless_chromium(sample_run: SampleRun, tmp_path: Path) -> None:
    database = sample_run.serving / serving.DATABASE
    anomalies = dict(
        sample_run.query(
            "SELECT kpi, count(*) FROM marts.kpi_anomalies WHERE is_anomaly GROUP BY kpi",
            db=database,
        )
    )
    ((tiers, cohort_cells, checks),) = sample_run.query(
        "SELECT (SELECT count(*) FROM marts.segment_summary WHERE dimension = 'member_tier'), "
        "(SELECT count(*) FROM marts.purchase_cohorts), (SELECT count(*) FROM ops.check_results)",
        db=database,
    )
    seen = open_report(sample_run.serving / serving.REPORT, tmp_path / "report.png")
    drawn, tiles = seen["drawn"], seen["tiles"]
    assert list(drawn) == CHARTS and seen["notes"] == {}
    for chart, counts in drawn.items():
        assert counts["rendered"] and counts["svgs"] == 1, (chart, counts)
        assert counts["marks"] >= 1, (chart, counts)
    # One bar per funnel step and per tier, one cell per cohort row.
    assert drawn["funnel"]["rects"] == 5
    assert drawn["tiers"]["rects"] == tiers
    assert drawn["retention"]["rects"] == cohort_cells
    # The red diamonds are the flagged days, no more, no less.
    assert drawn["gmv"]["symbols"] == anomalies.get("gmv", 0)
    assert drawn["conversion"]["symbols"] == anomalies.get("session_conversion_rate", 0)
    assert drawn["anomalies"]["symbols"] == sum(anomalies.values())
    assert len(tiles) == 6 and all(t.splitlines()[-1][0] in "▲▼▶–" for t in tiles), tiles
    # The sample's currency, rates as percentages, and the run's checks (one run: all of them).
    assert re.fullmatch(r"GMV\nCNY [\d,]+\.\d\d", tiles[0].split("\n▲")[0].split("\n▼")[0])
    assert re.search(r"\nCNY [\d,]+\.\d\d\n", tiles[3])  # AOV
    assert re.search(r"\n\d+\.\d%\n", tiles[2])  # conversion rate, e.g. 5.3%
    assert seen["checks"] == f"All {checks} checks of this run passed."


def test_a_report_without_events_draws_no_empty_chart(tmp_path: Path) -> None:
    """The hand-made BYOD-like file: the events charts are a sentence, nothing warns, also
    with no anomaly points to draw over the GMV line."""
    database, out = build_serving(tmp_path), tmp_path / "report.html"
    with duckdb.connect(str(database)) as conn:
        conn.execute("DELETE FROM marts.kpi_anomalies WHERE kpi = 'gmv'")
    write_report(database, out)
    seen = open_report(out, tmp_path / "report.png")
    assert list(seen["drawn"]) == ["gmv", "retention", "tiers", "lifecycle", "anomalies"]
    assert all(counts["rendered"] for counts in seen["drawn"].values())
    assert seen["drawn"]["gmv"]["symbols"] == 0 and seen["drawn"]["anomalies"]["symbols"] == 1
    not_delivered = "Not drawn: the events feed is not delivered."
    assert seen["notes"] == {"conversion": not_delivered, "funnel": not_delivered}
    assert "EUR 1,234,788.00" in seen["tiles"][0]
    assert seen["checks"] == "1 of 3 checks failed: raw/orders freshness (WARN)."
