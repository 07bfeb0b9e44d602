"""The report's charts as Vega-Lite specs (Altair): plain dicts for `vegaEmbed`, with their
data inlined, so nothing is fetched when the page is viewed."""

from datetime import date, timedelta

import altair as alt
import pandas as pd

from orchestration.report.data import ReportData
from orchestration.report.kpis import format_kpi

WIDTH = 520
HEIGHT = 220
FUNNEL_DAYS = 28
ANOMALY_COLOR = "#d62728"
TIER_ORDER = ["regular", "silver", "gold", "platinum"]
STAGE_ORDER = ["new", "active", "dormant", "churned", "prospect"]
STAGE_COLORS = ["#59a14f", "#4e79a7", "#f28e2b", "#e15759", "#bab0ac"]


def _iso(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Dates as ISO strings: Vega-Lite parses them, and JSON has no date type."""
    return frame.assign(**{c: pd.to_datetime(frame[c]).dt.strftime("%Y-%m-%d") for c in columns})


def _days(frame: pd.DataFrame) -> alt.X:
    """A daily time axis ("Mar 01"): at most a tick a day (never hours), at most ten ticks."""
    axis = alt.Axis(format="%b %d", tickCount=max(1, min(frame["business_date"].nunique() - 1, 10)))
    return alt.X("yearmonthdate(business_date):T", title=None, axis=axis)


def kpi_chart(data: ReportData, frame: pd.DataFrame, kpi: str, title: str, fmt: str) -> dict:
    """The daily line of the KPI column `kpi` of `frame`, its flagged anomaly days as red points."""
    series = _iso(frame[["business_date", kpi]], "business_date")
    flagged = data.anomalies[data.anomalies["kpi"] == kpi].rename(columns={"value": kpi})
    anomalies = _iso(flagged[["business_date", kpi, "z_score"]], "business_date")
    x = _days(series)
    y = alt.Y(f"{kpi}:Q", title=title, axis=alt.Axis(format=fmt))
    line = (
        alt.Chart(series)
        .mark_line(strokeWidth=1.5)
        .encode(x=x, y=y, tooltip=["business_date:T", alt.Tooltip(f"{kpi}:Q", format=fmt)])
    )
    points = (
        alt.Chart(anomalies)
        .mark_point(color=ANOMALY_COLOR, filled=True, size=90, shape="diamond")
        .encode(x=x, y=y, tooltip=[
            "business_date:T", alt.Tooltip(f"{kpi}:Q", format=fmt),
            alt.Tooltip("z_score:Q", format=".1f")])
    )  # fmt: skip
    chart = line if anomalies.empty else line + points  # an empty layer: Vega warns
    return chart.properties(width=WIDTH, height=HEIGHT).to_dict()


def funnel_chart(data: ReportData, end: date) -> dict:
    """Sessions reaching each step over the last FUNNEL_DAYS days, with the share of sessions."""
    dates = pd.to_datetime(data.funnel["business_date"]).dt.date
    recent = data.funnel[dates > end - timedelta(days=FUNNEL_DAYS)]
    steps = recent.groupby(["step_order", "step"], as_index=False)["sessions_reached"].sum()
    top = steps["sessions_reached"].max() if not steps.empty else 0
    steps["share"] = steps["sessions_reached"] / top if top else None
    base = alt.Chart(steps).encode(
        # An explicit list: a sort *field* cannot be unioned across the two layers.
        y=alt.Y("step:N", sort=steps.sort_values("step_order")["step"].tolist(), title=None),
        x=alt.X("sessions_reached:Q", title=f"sessions reaching the step, last {FUNNEL_DAYS} days"),
    )
    bars = base.mark_bar(color="#4c78a8").encode(
        tooltip=["step:N", "sessions_reached:Q", alt.Tooltip("share:Q", format=".1%")]
    )
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("share:Q", format=".1%"))
    return (bars + labels).properties(width=WIDTH, height=HEIGHT).to_dict()


def retention_chart(data: ReportData) -> dict:
    """Purchase cohorts: share of each first-purchase month active k months later."""
    cohorts = data.cohorts.assign(
        cohort=pd.to_datetime(data.cohorts["cohort_month"]).dt.strftime("%Y-%m")
    )[["cohort", "months_since_first", "cohort_size", "active_share"]]
    base = alt.Chart(cohorts).encode(
        x=alt.X("months_since_first:O", title="months since first purchase"),
        y=alt.Y("cohort:O", title="first-purchase month"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("active_share:Q", title="active share", scale=alt.Scale(scheme="blues")),
        tooltip=["cohort:O", "months_since_first:O", "cohort_size:Q",
                 alt.Tooltip("active_share:Q", format=".1%")],
    )  # fmt: skip
    text = base.mark_text(fontSize=9).encode(
        text=alt.Text("active_share:Q", format=".0%"),
        color=alt.condition("datum.active_share > 0.5", alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(width=WIDTH, height=HEIGHT + 60).to_dict()


def tier_chart(data: ReportData) -> dict:
    """Customers and revenue share per member tier, as of the snapshot date."""
    tiers = data.segments[data.segments["dimension"] == "member_tier"]
    base = alt.Chart(tiers)
    bars = base.mark_bar().encode(
        x=alt.X("segment:N", sort=TIER_ORDER, title="member tier"),
        y=alt.Y("customers:Q", title="customers"),
        color=alt.Color("segment:N", sort=TIER_ORDER, legend=None),
        tooltip=["segment:N", "customers:Q", alt.Tooltip("revenue_share:Q", format=".1%")],
    )
    return bars.properties(width=WIDTH // 2 - 20, height=HEIGHT).to_dict()


def lifecycle_chart(data: ReportData) -> dict:
    """Customers per lifecycle stage at each month end (lifecycle_flows' to_stage)."""
    base = alt.Chart(_iso(data.flows, "month"))
    share = alt.Axis(format="%")
    bars = base.mark_bar().encode(
        x=alt.X("yearmonth(month):O", title=None),
        y=alt.Y("customers:Q", stack="normalize", title="share of customers", axis=share),
        color=alt.Color(
            "stage:N", title="stage", scale=alt.Scale(domain=STAGE_ORDER, range=STAGE_COLORS)
        ),
        tooltip=[alt.Tooltip("yearmonth(month):O", title="month"), "stage:N", "customers:Q"],
    )
    return bars.properties(width=WIDTH, height=HEIGHT).to_dict()


def anomaly_chart(data: ReportData) -> dict:
    """Every flagged KPI anomaly on one time line, one row per KPI, red above / blue below."""
    flagged = _iso(data.anomalies, "business_date")
    flagged["direction"] = [
        "above baseline" if z > 0 else "below baseline" for z in flagged.z_score
    ]
    flagged["z_score"] = flagged.z_score.round(1)
    for column in ("value", "baseline_mean"):  # as text, each KPI in its own unit
        values = zip(flagged.kpi, flagged[column], strict=True)
        flagged[column] = [format_kpi(kpi, value, data.currency) for kpi, value in values]
    directions = alt.Scale(
        domain=["above baseline", "below baseline"], range=[ANOMALY_COLOR, "#1f77b4"]
    )
    base = alt.Chart(flagged)
    points = base.mark_point(filled=True, size=110, shape="diamond").encode(
        x=_days(flagged),
        y=alt.Y("kpi:N", title=None),
        color=alt.Color("direction:N", scale=directions, title=None),
        tooltip=["business_date:T", "kpi:N", "value:N", "baseline_mean:N", "z_score:Q"],
    )
    return points.properties(width=WIDTH, height=HEIGHT // 2 + 40).to_dict()


def all_charts(data: ReportData, end: date) -> dict[str, dict]:
    """Chart id -> Vega-Lite spec, in page order, of the charts with rows (an empty box says
    nothing, and Vega warns of an infinite extent). Numbers without a format: "1,234.5"."""
    gmv = f"GMV ({data.currency})" if data.currency else "GMV"
    specs = {
        "gmv": kpi_chart(data, data.sales, "gmv", gmv, ",.0f"),
        "conversion": kpi_chart(
            data, data.traffic, "session_conversion_rate", "Session conversion", ".1%"
        ),
        "funnel": funnel_chart(data, end),
        "retention": retention_chart(data),
        "tiers": tier_chart(data),
        "lifecycle": lifecycle_chart(data),
        "anomalies": anomaly_chart(data),
    }
    drawn = {key: spec for key, spec in specs.items() if any(spec["datasets"].values())}
    for spec in drawn.values():
        spec.setdefault("config", {})["numberFormat"] = ",~f"
    return drawn
