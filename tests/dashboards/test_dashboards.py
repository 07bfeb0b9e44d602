"""The dashboards (Evidence, `dashboards/`) build from a real sample publish and draw offline.

`dashboards/scripts/build.sh` builds the static site from a copy of the session's published
serving file (plus the `ops` schema: the publish step's when present, else the stand-in
`dashboards/dev/ops.sql`). Every page is then opened in the system headless Chromium, served by
`python -m http.server` on 127.0.0.1, with every other request refused: no page error, no
console error or warning, and a few figures per page equal the marts' (formatted as the page
formats them: money with the deployment's currency, counts with thousands separators, rates as
percentages). A screenshot of each page is written to the test's tmp dir.

Needs Node 20 and npm (`npm ci` runs when dashboards/package-lock.json changed) and Chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import SampleRun

from orchestration import serving, settings

DASHBOARDS = settings.REPO_ROOT / "dashboards"
BUILD = DASHBOARDS / "scripts" / "build.sh"
DEV_OPS = DASHBOARDS / "dev" / "ops.sql"
FAR_ZONE = "America/Los_Angeles"  # behind UTC: a date read as local midnight would move
CHANNEL = "affiliate"  # a channel of the sample's funnel, picked in the traffic page's dropdown
PAGES = ["/", "/sales", "/traffic", "/customers", "/marketing", "/service", "/growth", "/quality"]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail("Chromium is not installed (apt-get install chromium), or set CHROMIUM")
    return path


def money(value: Decimal | float, currency: str, places: int = 2) -> str:
    """As the pages show money: `#,##0.00 "CNY"`."""
    q = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{q:,} {currency}"


def count(value: int) -> str:
    return f"{int(value):,}"


def pct(value: float, places: int = 1) -> str:
    q = (Decimal(str(value)) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{q}%"


def one(db: Path, sql: str) -> tuple:
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None, sql
    return row


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(sample_run: SampleRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The serving folder of a dashboards build: serving.duckdb (the sample's, with `ops`) and
    dashboards/ (the site). Yields the serving folder."""
    if not shutil.which("npm"):
        pytest.fail("npm is not installed: the dashboards need Node 20 and npm")
    folder = tmp_path_factory.mktemp("dashboards") / "serving"
    folder.mkdir()
    database = folder / serving.DATABASE
    shutil.copyfile(sample_run.serving / serving.DATABASE, database)
    with duckdb.connect(str(database)) as conn:
        (has_ops,) = conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops'"
        ).fetchone()
        if not has_ops:
            conn.execute(DEV_OPS.read_text())
        # Planted in the copy, to see both branches drawn: surveys not delivered (the service
        # page names it instead of drawing NPS and CSAT), no search_query column (search_terms
        # empty: the traffic page says so) and, when the sample quarantined nothing, 7
        # quarantined order rows on the first business day.
        conn.execute("UPDATE ops.feed_freshness SET delivered = false WHERE feed = 'surveys'")
        conn.execute("DELETE FROM marts.search_terms")
        conn.execute(
            "INSERT INTO ops.quarantine_daily SELECT 'orders', min(business_date), "
            "'planted by the dashboards test', 7 FROM marts.daily_sales "
            "WHERE NOT EXISTS (FROM ops.quarantine_daily)"
        )
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(BUILD)],
        env={**os.environ, "SERVING_DIR": str(folder)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(f"\nbuild ({time.monotonic() - started:.0f} s):\n{proc.stdout}{proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Quiet: one line per step, nothing else.
    assert all(line.startswith("dashboards: ") for line in proc.stdout.splitlines()), proc.stdout
    assert (folder / "dashboards" / "index.html").is_file()
    yield folder


@pytest.fixture(scope="module")
def pages(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every page opened in headless Chromium: its text, console messages, page errors, refused
    requests and screenshot."""
    from playwright.sync_api import sync_playwright

    shots = tmp_path_factory.mktemp("screenshots")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
         str(site / "dashboards"), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    found: dict[str, dict] = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            try:
                for path in PAGES:
                    found[path] = visit(browser, origin, path, shots)
                # A filter runs its queries in the browser (DuckDB-wasm on the site's parquet).
                found[f"/traffic?channel={CHANNEL}"] = visit(
                    browser, origin, "/traffic", shots, choose=("Channel", CHANNEL)
                )
                # Dates are days whatever the reader's time zone (none shifts the range).
                found[f"/sales@{FAR_ZONE}"] = visit(browser, origin, "/sales", shots, zone=FAR_ZONE)
            finally:
                browser.close()
    finally:
        server.kill()  # a static file server: nothing to tidy up
        server.wait(timeout=30)
    print(f"\nscreenshots: {shots}")
    return found


def visit(
    browser,
    origin: str,
    path: str,
    shots: Path,
    choose: tuple[str, str] | None = None,
    zone: str = "UTC",
) -> dict:
    """Open `path` in time zone `zone`; with `choose` = (dropdown, option), pick that option."""
    page = browser.new_page(viewport={"width": 1400, "height": 900}, timezone_id=zone)
    console: list[str] = []
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))

    def refuse(route) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    page.goto(origin + path, wait_until="networkidle")
    # The queries re-run in the browser (DuckDB-wasm) once the page hydrates.
    page.wait_for_function("document.querySelectorAll('[aria-busy=\"true\"]').length === 0")
    page.wait_for_timeout(1500)
    name = path.strip("/") or "index"
    if choose:
        dropdown, option = choose
        page.get_by_role("combobox", name=dropdown).click()
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")
        page.wait_for_function("document.querySelectorAll('[aria-busy=\"true\"]').length === 0")
        page.wait_for_timeout(2500)
        name = f"{name}-{option}"
    if zone != "UTC":
        name = f"{name}-{zone.replace('/', '_')}"
    text = page.inner_text("body")
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    return {"text": text, "console": console, "errors": errors, "outside": outside, "shot": shot}


def test_every_page_draws_offline_without_console_noise(pages: dict[str, dict]) -> None:
    for path, seen in pages.items():
        assert seen["errors"] == [], (path, seen["errors"])
        noisy = [m for m in seen["console"] if m.startswith(("error", "warning"))]
        assert noisy == [], (path, noisy)
        assert seen["outside"] == [], (path, seen["outside"])
        assert "Error" not in seen["text"], (path, seen["text"][:2000])
        (seen["shot"].parent / f"{seen['shot'].stem}.txt").write_text(seen["text"])
        assert seen["shot"].stat().st_size > 20_000, path


def test_index_and_sales_show_the_newest_day(site: Path, pages: dict[str, dict]) -> None:
    db = site / serving.DATABASE
    (currency,) = one(db, "SELECT currency FROM ops.deployment")
    day, gmv, paid_orders, aov = one(
        db,
        "SELECT business_date, gmv, paid_orders, aov FROM marts.daily_sales "
        "ORDER BY business_date DESC LIMIT 1",
    )
    (total_gmv,) = one(db, "SELECT sum(gmv) FROM marts.daily_sales")
    for path in ("/", "/sales"):
        text = pages[path]["text"]
        assert day.isoformat() in text, path
        assert money(gmv, currency) in text, (path, money(gmv, currency))
        assert count(paid_orders) in text, path
        assert money(aov, currency) in text, path
    for path in ("/sales", f"/sales@{FAR_ZONE}"):
        text = pages[path]["text"]
        assert f"Latest business day in the range: {day.isoformat()} " in text, path
        assert money(gmv, currency) in text, path
        assert money(total_gmv, currency, 0) in text, path  # the default range: every day
    # The index links every page.
    for label in ("Sales", "Traffic & funnel", "Customers", "Marketing", "Growth", "Data quality"):
        assert label in pages["/"]["text"], label


def test_traffic_customers_marketing_service_figures(site: Path, pages: dict[str, dict]) -> None:
    db = site / serving.DATABASE
    (currency,) = one(db, "SELECT currency FROM ops.deployment")
    page_views, sessions = one(db, "SELECT sum(page_views), sum(sessions) FROM marts.daily_traffic")
    assert count(page_views) in pages["/traffic"]["text"]
    assert count(sessions) in pages["/traffic"]["text"]
    (new_customers,) = one(db, "SELECT sum(new_customers) FROM marts.daily_users")
    assert count(new_customers) in pages["/customers"]["text"]
    (top_segment,) = one(
        db,
        "SELECT segment FROM marts.segment_summary WHERE dimension = 'rfm_segment' "
        "ORDER BY customers DESC LIMIT 1",
    )
    assert top_segment in pages["/customers"]["text"]
    (spend,) = one(db, "SELECT sum(spend) FROM marts.marketing_daily WHERE campaign_id = 'all'")
    assert money(spend, currency, 0) in pages["/marketing"]["text"]
    reviews, complaints = one(
        db, "SELECT sum(review_count), sum(complaints) FROM marts.daily_satisfaction"
    )
    (tickets,) = one(db, "SELECT sum(tickets) FROM marts.service_daily")
    for figure in (reviews, complaints, tickets):
        assert count(figure) in pages["/service"]["text"], figure


def test_growth_shows_the_significant_experiment_and_anomaly_days(
    site: Path, pages: dict[str, dict]
) -> None:
    db = site / serving.DATABASE
    text = pages["/growth"]["text"]
    with duckdb.connect(str(db), read_only=True) as conn:
        significant = conn.execute(
            "SELECT experiment_id, variant FROM marts.ab_test_results WHERE is_significant "
            "ORDER BY 1, 2"
        ).fetchall()
        anomalies = conn.execute(
            "SELECT business_date, kpi FROM marts.kpi_anomalies WHERE is_anomaly "
            "ORDER BY business_date DESC, kpi"
        ).fetchall()
        (method,) = conn.execute("SELECT any_value(method) FROM marts.gmv_forecast").fetchone()
    if significant:
        names = ", ".join(f"{e} ({v})" for e, v in significant)
        assert f"Significant: {names}." in text
    else:
        assert "No experiment is significant." in text
    assert f"({len(anomalies):,} in all)" in text
    if anomalies:
        newest_day, _ = anomalies[0]
        assert newest_day.isoformat() in text
    assert method in text


def test_quality_page_shows_checks_quarantine_freshness_and_publishes(
    site: Path, pages: dict[str, dict]
) -> None:
    db = site / serving.DATABASE
    text = pages["/quality"]["text"]
    with duckdb.connect(str(db), read_only=True) as conn:
        (quarantined,) = conn.execute(
            "SELECT coalesce(sum(rows), 0) FROM ops.quarantine_daily"
        ).fetchone()
        failures = conn.execute(
            "SELECT asset, check_name FROM ops.check_results WHERE NOT passed "
            "ORDER BY evaluated_at DESC LIMIT 10"
        ).fetchall()
        feeds = [f for (f,) in conn.execute("SELECT feed FROM ops.feed_freshness").fetchall()]
        (version,) = conn.execute("SELECT max(version) FROM ops.publish_log").fetchone()
    assert f"Quarantined rows in the range\n{count(quarantined)}" in text.replace("\n\n", "\n")
    for asset, check in failures:
        assert asset in text and check in text, (asset, check)
    if not failures:
        assert "every check passed" in text
    for feed in feeds:
        assert feed in text, feed
    assert f"Serving version\n{version}" in text.replace("\n\n", "\n")


def test_a_feed_that_is_not_delivered_is_named_not_drawn(pages: dict[str, dict]) -> None:
    """surveys is marked not delivered in the copy: the service page and the index say so,
    the service page draws no NPS or CSAT, and no other page mentions it."""
    service = pages["/service"]["text"]
    assert "Not delivered: the surveys feed" in service
    assert "NPS, range" not in service and "CSAT, range" not in service
    assert "Average rating" in service  # reviews are delivered: drawn
    assert "Not delivered: surveys" in pages["/"]["text"]
    for path in ("/sales", "/traffic", "/customers", "/marketing", "/growth"):
        assert "Not delivered" not in pages[path]["text"], path


def test_a_dropdown_filters_in_the_browser(site: Path, pages: dict[str, dict]) -> None:
    """Choosing a channel re-runs the funnel query in DuckDB-wasm: the funnel shows that
    channel's sessions, not every session's."""
    db = site / serving.DATABASE
    with duckdb.connect(str(db), read_only=True) as conn:
        reached = dict(
            conn.execute(
                "SELECT channel, sum(sessions_reached) FROM marts.daily_funnel "
                "WHERE step = 'session' AND channel IN ('all', ?) GROUP BY channel",
                [CHANNEL],
            ).fetchall()
        )
    assert reached[CHANNEL] != reached["all"]
    before = pages["/traffic"]["text"]
    after = pages[f"/traffic?channel={CHANNEL}"]["text"]
    assert f"session\t{count(reached['all'])}\t" in before
    assert f"session\t{count(reached[CHANNEL])}\t" in after


def test_the_second_round_marts_on_their_pages(site: Path, pages: dict[str, dict]) -> None:
    """A figure of each new section, formatted as its page formats it (the default range
    covers every day and month of the sample)."""
    db = site / serving.DATABASE
    (currency,) = one(db, "SELECT currency FROM ops.deployment")
    sales = pages["/sales"]["text"]
    method, revenue = one(
        db,
        "SELECT payment_method, sum(paid_revenue) FROM marts.daily_payment_methods "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )
    assert f"{method}\t" in sales and money(revenue, currency) in sales
    reason, refunded = one(
        db,
        "SELECT reason, sum(refunded_amount) FROM marts.refund_reasons GROUP BY 1 "
        "ORDER BY 2 DESC LIMIT 1",
    )
    assert f"{reason}\t" in sales and money(refunded, currency) in sales
    product, launch, units = one(
        db,
        "SELECT product_id, min(launch_date), sum(units_sold) FROM marts.new_product_sales "
        "GROUP BY 1 ORDER BY 2, 1 LIMIT 1",
    )
    assert f"{product}\t{launch.isoformat()}\t" in sales and count(units) in sales

    traffic = pages["/traffic"]["text"]
    assert "Sessions started and paid orders placed per weekday and local hour" in traffic
    path, path_sessions = one(
        db, "SELECT path, sum(sessions) FROM marts.page_paths GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )
    assert f"{path}\t{count(path_sessions)}\t" in traffic
    assert "No search terms: the events feed delivers no search_query column" in traffic
    viewed, views = one(
        db,
        "SELECT product_id, sum(product_views) FROM marts.product_engagement GROUP BY 1 "
        "ORDER BY 2 DESC, 1 LIMIT 1",
    )
    assert f"{viewed}\t{count(views)}\t" in traffic

    (category,) = one(
        db,
        "SELECT category FROM marts.complaint_categories ORDER BY month DESC, complaints DESC, "
        "tickets DESC LIMIT 1",
    )
    assert "Ticket categories" in pages["/service"]["text"]
    assert f"\t{category}\t" in pages["/service"]["text"]

    (unattributed,) = one(
        db,
        "SELECT sum(attributed_revenue) FROM marts.channel_attribution "
        "WHERE channel = 'unattributed' AND attribution_model = 'last_touch'",
    )
    assert f"unattributed\t{money(unattributed, currency, 0)}\t" in pages["/marketing"]["text"]

    customers = pages["/customers"]["text"]
    (scored,) = one(db, "SELECT count(*) FROM marts.churn_risk")
    if scored:
        (auc,) = one(db, "SELECT any_value(model_auc) FROM marts.churn_risk")
        assert f"Model AUC (back-test)\n{auc:.3f}" in customers.replace("\n\n", "\n")
    else:  # the 91-day sample
        assert "Too short to train the churn model" in customers
    assert "Customers per member tier and activity tier" in customers

    growth = pages["/growth"]["text"]
    (alerts,) = one(db, "SELECT count(*) FROM marts.product_sales_alerts WHERE is_alert")
    assert f"Flagged product days in the range ({count(alerts)} in all)" in growth
    month, kpi, target = one(
        db,
        "SELECT strftime(month, '%Y-%m'), kpi, target FROM marts.kpi_targets "
        "WHERE kpi = 'new_customers' AND target IS NOT NULL ORDER BY month LIMIT 1",
    )
    assert f"{month}\t{kpi}\t{count(target)}\t" in growth
