"""The report page: one self-contained HTML file that draws with no network at all.

The Vega libraries are inlined from the `vl-convert-python` wheel. Charts render as SVG;
`window.reportReady` resolves when every chart has drawn and `window.reportErrors` collects
any chart that failed."""

import contextlib
import functools
import html
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import pandas as pd
import vl_convert

from orchestration import serving
from orchestration.report.data import ReportData
from orchestration.report.kpis import Headline, format_kpi, format_value

ARROWS = {"up": "▲", "down": "▼", "flat": "▶", "none": "–"}

CHART_TITLES = {  # HTML: written into the page as they are
    "gmv": ("GMV per day", "Red diamonds: days kpi_anomalies flags for gmv."),
    "conversion": (
        "Session conversion rate",
        "Sessions with a purchase / sessions; red diamonds: flagged anomaly days.",
    ),
    "funnel": ("Funnel", "Sessions reaching each step (all channels); label: share of sessions."),
    "retention": (
        "Purchase cohort retention",
        "Share of each first-purchase month's customers with a paid order k months later.",
    ),
    "tiers": ("Member tiers", "Customers per tier as of the snapshot date."),
    "lifecycle": ("Lifecycle mix", "Customers per lifecycle stage at each month end."),
    "anomalies": ("KPI anomalies", "Every day whose |z| against its weekday baseline is above 3."),
}
CHART_FEEDS = {"conversion": "events", "funnel": "events"}  # the optional feed a chart needs

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
header p { color: #666; margin: 4px 0 16px; }
.tiles { display: grid; grid-template-columns: repeat(6, minmax(140px, 1fr)); gap: 12px; }
.tile { border: 1px solid #ddd; border-radius: 8px; padding: 12px; }
.tile .label { font-size: 13px; color: #555; }
.tile .value { font-size: 24px; font-weight: 600; margin: 6px 0; }
.tile .trend { font-size: 13px; }
.trend.up { color: #2ca02c; } .trend.down, #checks.failed { color: #d62728; }
.trend.flat, .trend.none, .note { color: #777; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(560px, 1fr)); gap: 20px;
          margin-top: 24px; }
figure { margin: 0; border: 1px solid #eee; border-radius: 8px; padding: 12px; }
figcaption { font-size: 12px; color: #666; }
h2 { font-size: 16px; margin: 0 0 6px; }
table { border-collapse: collapse; margin-top: 8px; font-size: 13px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
tr.anomaly td { background: #fdecea; }
"""


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite (the version Altair writes) and Vega-Embed as one script, built once per
    environment and kept next to the installed packages, one file per pair of versions."""
    vl_version = "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    name = f"vega-bundle-{vl_convert.__version__}-{vl_version}.js"
    path = Path(sys.prefix) / "share" / "ecom-warehouse" / name
    try:
        bundle = path.read_text(encoding="utf-8")
    except OSError:
        bundle = vl_convert.javascript_bundle(vl_version=vl_version)
        with contextlib.suppress(OSError):  # an unwritable cache only costs the rebuild
            serving.write_atomic(path, lambda tmp: tmp.write_text(bundle, encoding="utf-8"))
    if "</script" in bundle.lower():  # would end the inline <script> early
        raise ValueError("the Vega bundle contains '</script'; cannot inline it")
    return bundle


def _tile(headline: Headline, data: ReportData) -> str:
    change = "no previous period" if headline.change is None else f"{headline.change:+.1%}"
    previous = format_value(headline.previous, headline.unit, data.currency)
    return (
        f'<div class="tile" data-kpi="{headline.key}" data-trend="{headline.trend}">'
        f'<div class="label">{html.escape(headline.label)}</div>'
        f'<div class="value">{format_value(headline.current, headline.unit, data.currency)}</div>'
        f'<div class="trend {headline.trend}" title="{html.escape(headline.period)}">'
        f"{ARROWS[headline.trend]} {change} <span>(was {previous})</span></div></div>"
    )


def _flag_table(table_id: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """One table of flagged rows (KPI anomalies, product sales alerts)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        '<tr class="anomaly">' + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def _anomaly_table(anomalies: pd.DataFrame, currency: str | None) -> str:
    if anomalies.empty:
        return "<p>No KPI anomaly is flagged in the published data.</p>"
    rows = [
        (
            f"{pd.Timestamp(r.business_date):%Y-%m-%d}",
            html.escape(str(r.kpi)),
            format_kpi(r.kpi, r.value, currency),
            format_kpi(r.kpi, r.baseline_mean, currency),
            f"{r.z_score:+.1f}",
        )
        for r in anomalies.itertuples()
    ]
    return _flag_table("anomaly-table", ("date", "kpi", "value", "baseline mean", "z"), rows)


def _product_alert_table(alerts: pd.DataFrame) -> str:
    if alerts.empty:
        return "<p>No product sales alert in the published data.</p>"
    rows = [
        (
            f"{pd.Timestamp(r.business_date):%Y-%m-%d}",
            html.escape(str(r.product_id)),
            f"{r.units_sold:,}",
            f"{r.baseline_mean:,.1f}",
            f"{r.z_score:+.1f}",
        )
        for r in alerts.itertuples()
    ]
    headers = ("date", "product", "units", "baseline mean", "z")
    return _flag_table("product-alert-table", headers, rows)


def _figure(chart_id: str, drawn: bool, data: ReportData) -> str:
    title, caption = CHART_TITLES[chart_id]
    body = f'<div class="chart" id="chart-{chart_id}"></div>'
    if not drawn:  # no rows: say why instead of drawing an empty box
        feed = CHART_FEEDS.get(chart_id, "")
        why = f"the {feed} feed is not delivered" if feed in (data.undelivered or ()) else "no data"
        body = f'<p class="note" id="note-{chart_id}">Not drawn: {why}.</p>'
    return f"<figure><h2>{title}</h2>{body}<figcaption>{caption}</figcaption></figure>"


def _checks_line(checks: tuple[int, list[str]] | None) -> str:
    """Whether the publishing run's checks all passed (a failed one is a WARN: it published)."""
    if checks is None:
        return '<p id="checks">Checks: no data (this serving file has no ops schema).</p>'
    total, failed = checks
    text = f"{len(failed)} of {total} checks failed: {'; '.join(failed)}." if failed else ""
    text = html.escape(text or f"All {total} checks of this run passed.")
    return f'<p id="checks" class="{"failed" if failed else "passed"}">{text}</p>'


EMBED_SCRIPT = """
window.reportErrors = [];
window.reportReady = Promise.all(Object.entries(REPORT_SPECS).map(([id, spec]) =>
  vegaEmbed("#chart-" + id, spec, {renderer: "svg", actions: false})
    .then(() => document.getElementById("chart-" + id).setAttribute("data-rendered", "true"))
    .catch((error) => { window.reportErrors.push(id + ": " + error); console.error(error); })
));
"""


def render(data: ReportData, headlines: list[Headline], charts: dict[str, dict]) -> str:
    """The whole page as one string."""
    published = f"{data.published_at:%Y-%m-%d %H:%M} UTC" if data.published_at else "unknown"
    subtitle = (
        f"Data to {data.last_date} · publish version {data.version} · published {published} · "
        f"run {html.escape(str(data.run_id))} · rendered {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    period = html.escape(headlines[0].period) if headlines else ""
    specs = json.dumps(charts, default=str).replace("</", "<\\/")  # safe inside <script>
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Daily KPI report {data.last_date}</title>
<style>{STYLE}</style>
</head><body>
<header><h1>Daily KPI report</h1><p>{subtitle}</p>{_checks_line(data.checks)}</header>
<section class="tiles" id="headlines">{"".join(_tile(h, data) for h in headlines)}</section>
<p><small>Arrows: {period}; repurchase rate: month over month.</small></p>
<section class="charts">{"".join(_figure(c, c in charts, data) for c in CHART_TITLES)}</section>
<section><h2>Flagged anomalies</h2>{_anomaly_table(data.anomalies, data.currency)}</section>
<section><h2>Product sales alerts</h2>{_product_alert_table(data.product_alerts)}</section>
<script>{vega_bundle()}</script>
<script>const REPORT_SPECS = {specs};{EMBED_SCRIPT}</script>
</body></html>
"""
