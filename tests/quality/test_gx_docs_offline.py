"""The GX Data Docs site works offline: its pages draw in headless Chromium with no network.

The site is built by the checks' code path (`validate_table`, then `gx_validation.build_docs`) from
the project's raw.orders suite and a small DuckDB table with a bad order status, so it has an
index and a failed run's validation page. Each page is opened
with every non-file request refused and recorded; then: nothing was asked of the network, every
local file loaded, no JS error, bootstrap's styles and scripts are in effect, the Font Awesome
icons and the logo drew, the index's tables (filled by bootstrap-table) have their rows, and in
dark mode the index takes bootstrap-dark's colours and the local logo. No Chromium is a failure,
not a skip (`chromium_path`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from orchestration.contract import FEEDS, raw_table_ddl
from orchestration.quality import gx_validation
from orchestration.quality.gx_validation import discover_suite_files, validate_table
from orchestration.settings import EXPECTATIONS_DIR
from tests.report.test_report_browser import CHROMIUM_ARGS, chromium_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

RAW_SUITES = [s for s in discover_suite_files(EXPECTATIONS_DIR) if s.name.startswith("raw.")]
ORDERS = [
    ("o1", "c1", "2024-03-01 10:00:00", "paid", 0, 5, None),
    ("o2", "c2", "2024-03-01 11:00:00", "shipped", 3, 0, "2024-03-02 08:00:00"),
    ("o3", "c1", "2024-03-02 09:30:00", "teleported", 0, 5, None),  # not a known status
]

# What a page shows once its scripts ran: computed styles, loaded fonts and images, table rows.
INSPECT = """async () => {
  await document.fonts.ready;
  const style = (selector, property) => {
    const element = document.querySelector(selector);
    return element ? getComputedStyle(element)[property] : null;
  };
  const rows = (selector) => Array.from(document.querySelectorAll(selector + ' tbody tr'))
    .filter(tr => !tr.classList.contains('no-records-found')).map(tr => tr.innerText.trim());
  const logo = document.querySelector('.navbar-brand img');
  return {
    bodyFont: style('body', 'fontFamily'),
    bodyBackground: style('body', 'backgroundColor'),
    logoBackground: style('.navbar-brand a', 'backgroundImage'),
    navbarDisplay: style('nav.navbar', 'display'),
    jquery: typeof window.jQuery === 'function',
    bootstrapTable: typeof window.jQuery?.fn?.bootstrapTable === 'function',
    bootstrapModal: typeof window.jQuery?.fn?.modal === 'function',
    vegaEmbed: typeof window.vegaEmbed === 'function',
    icons: document.querySelectorAll('i.fas').length,
    iconFont: style('i.fas', 'fontFamily'),
    loadedFonts: Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family),
    logoWidth: logo ? logo.naturalWidth : 0,
    suiteRows: rows('.ge-index-page-expectation_suites-table'),
    validationRows: rows('.ge-index-page-validation-results-table'),
    pagination: Array.from(document.querySelectorAll('.pagination-info'), e => e.innerText.trim()),
  };
}"""


@dataclass
class PageVisit:
    """What a page asked for and what it showed."""

    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    shown: dict[str, Any] = field(default_factory=dict)


@dataclass
class Site:
    index: Path
    validation_page: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A Data Docs site with a failed run of raw.orders."""
    root = tmp_path_factory.mktemp("gx_docs_offline")
    docs = root / "docs"
    conn = duckdb.connect(str(root / "wh.duckdb"))
    try:
        conn.execute("CREATE SCHEMA raw")
        conn.execute(raw_table_ddl(FEEDS["orders"]))
        conn.executemany(
            "INSERT INTO raw.orders (order_id, customer_id, order_ts, status, discount_amount, "
            "shipping_fee, shipped_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ORDERS,
        )
        orders = next(s for s in RAW_SUITES if s.name == "raw.orders")
        result = validate_table(conn, orders, docs_dir=docs, run_name="offline")
    finally:
        conn.close()
    assert result.failed()
    gx_validation.build_docs(docs, "offline")
    return Site(docs / "index.html", gx_validation.page_path(docs, result.result_id))


def _visit(browser: Browser, path: Path, color_scheme: str = "light") -> PageVisit:
    """Open one page, refusing (and recording) every request that is not a local file."""
    visit = PageVisit()

    def refuse(route: Route) -> None:
        url = route.request.url
        if url.startswith("file://"):
            visit.files.append(url)
            route.continue_()
        else:
            visit.outside.append(url)
            route.abort()

    page = browser.new_page(viewport={"width": 1400, "height": 900}, color_scheme=color_scheme)
    page.on("pageerror", lambda e: visit.errors.append(str(e)))
    page.on("requestfailed", lambda r: visit.failed.append(r.url))
    page.route("**/*", refuse)
    page.goto(path.as_uri(), wait_until="load")
    visit.shown = page.evaluate(INSPECT)
    page.close()
    return visit


@pytest.fixture(scope="module")
def visits(site: Site) -> Iterator[dict[str, PageVisit]]:
    """The index and the validation page, each opened offline; and the index in dark mode
    (its styles swap the logo for a background image)."""
    from playwright.sync_api import sync_playwright

    pages = {"index": site.index, "validation": site.validation_page}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            visits = {name: _visit(browser, path) for name, path in pages.items()}
            visits["index-dark"] = _visit(browser, site.index, color_scheme="dark")
            yield visits
        finally:
            browser.close()


@pytest.mark.parametrize("name", ["index", "validation", "index-dark"])
def test_page_loads_nothing_from_the_network(visits: dict[str, PageVisit], name: str) -> None:
    visit = visits[name]
    assert visit.outside == []  # every asset is a local file
    assert visit.failed == []  # refused requests (none) and missing local files
    assert visit.errors == []
    assert any("/static/vendor/maxcdn.bootstrapcdn.com/bootstrap/4.3.1/" in u for u in visit.files)


@pytest.mark.parametrize("name", ["index", "validation"])
def test_page_is_styled_and_its_scripts_run(visits: dict[str, PageVisit], name: str) -> None:
    shown = visits[name].shown
    # Bootstrap 4's reboot font stack, its flex navbar and its breadcrumb padding.
    assert shown["bodyFont"].startswith("-apple-system") and "Segoe UI" in shown["bodyFont"]
    assert shown["navbarDisplay"] == "flex"
    assert shown["jquery"] and shown["bootstrapTable"] and shown["bootstrapModal"]
    assert shown["vegaEmbed"]
    assert shown["logoWidth"] > 0  # GX's logo, from the site's static/images


@pytest.mark.parametrize("name", ["index", "validation"])
def test_icons_draw_with_font_awesome(visits: dict[str, PageVisit], name: str) -> None:
    shown = visits[name].shown
    assert shown["icons"] > 0
    assert "Font Awesome 6 Free" in shown["iconFont"]
    assert "Font Awesome 6 Free" in shown["loadedFonts"]


def test_index_lists_the_failed_run(visits: dict[str, PageVisit]) -> None:
    shown = visits["index"].shown
    (run,) = shown["validationRows"]  # bootstrap-table drew it
    assert "raw.orders" in run


def test_dark_mode_is_styled_and_shows_the_local_logo(visits: dict[str, PageVisit]) -> None:
    light, dark = visits["index"].shown, visits["index-dark"].shown
    assert light["bodyBackground"] == "rgb(255, 255, 255)"
    assert dark["bodyBackground"] != light["bodyBackground"]  # bootstrap-dark's colours
    assert "/static/images/logo-long.png" in dark["logoBackground"]
