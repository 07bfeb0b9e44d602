"""Headline KPIs: the last 7 business days against the 7 before (repurchase: month over month).
Ratios over a period are recomputed from summed parts, never averaged day by day."""

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from orchestration.report.data import ReportData

PERIOD_DAYS = 7
FLAT_BAND = 0.005  # a change smaller than this share of the previous value is drawn as flat


@dataclass(frozen=True)
class Headline:
    """One headline tile: the value of the current period, the previous one, how to print it."""

    key: str
    label: str
    current: float | None
    previous: float | None
    unit: str  # "money", "count", "percent", "rating"
    period: str

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when it is undefined."""
        if self.current is None or self.previous in (None, 0):
            return None
        return (self.current - self.previous) / abs(self.previous)

    @property
    def trend(self) -> str:
        """`up`, `down`, `flat` or `none` (no previous period to compare with)."""
        change = self.change
        if change is None:
            return "none"
        if abs(change) < FLAT_BAND:
            return "flat"
        return "up" if change > 0 else "down"


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def _two_periods(frame: pd.DataFrame, end: date, func) -> tuple[float | None, ...]:
    """`func` of the PERIOD_DAYS days ending on `end` and of the ones before; None if empty."""
    dates = pd.to_datetime(frame["business_date"]).dt.date
    values = []
    for last in (end, end - timedelta(days=PERIOD_DAYS)):
        period = frame[(dates > last - timedelta(days=PERIOD_DAYS)) & (dates <= last)]
        values.append(None if period.empty else func(period))
    return tuple(values)


def _repurchase(monthly: pd.DataFrame) -> tuple[tuple[float | None, float | None], str]:
    """Repurchase rate of the newest month with buyers and of the month before it; the period."""
    months = monthly[monthly["buyers"] > 0].sort_values("month")
    rates = [_ratio(r.repeat_buyers, r.buyers) for r in months.itertuples()]
    if not rates:
        return (None, None), "month"
    period = f"{pd.Timestamp(months['month'].iloc[-1]):%b %Y} vs previous month"
    return (rates[-1], rates[-2] if len(rates) > 1 else None), period


def headlines(data: ReportData, end: date) -> list[Headline]:
    """The six headline KPIs for the period ending on `end`, in display order."""
    period = f"{PERIOD_DAYS} days to {end:%Y-%m-%d} vs the {PERIOD_DAYS} days before"

    def tile(key: str, label: str, unit: str, frame: pd.DataFrame, func) -> Headline:
        return Headline(key, label, *_two_periods(frame, end, func), unit, period)

    sales, traffic, satisfaction = data.sales, data.traffic, data.satisfaction
    weighted_rating = satisfaction.assign(
        points=satisfaction["avg_rating"].fillna(0) * satisfaction["review_count"]
    )
    repurchase, months = _repurchase(data.monthly)
    return [
        tile("gmv", "GMV", "money", sales, lambda f: f["gmv"].sum()),
        tile("paid_orders", "Paid orders", "count", sales, lambda f: f["paid_orders"].sum()),
        tile("session_conversion_rate", "Conversion rate", "percent", traffic,
             lambda f: _ratio((f["session_conversion_rate"].fillna(0) * f["sessions"]).sum(),
                              f["sessions"].sum())),
        tile("aov", "AOV", "money", sales,
             lambda f: _ratio(f["paid_revenue"].sum(), f["paid_orders"].sum())),
        Headline("repurchase_rate", "Repurchase rate", *repurchase, "percent", months),
        tile("avg_rating", "Avg rating", "rating", weighted_rating,
             lambda f: _ratio(f["points"].sum(), f["review_count"].sum())),
    ]  # fmt: skip


FORMATS = {"money": "{:,.2f}", "count": "{:,.0f}", "percent": "{:.1%}", "rating": "{:.2f}"}


def format_value(value: float | None, unit: str, currency: str | None = None) -> str:
    """How a value is printed: money with the deployment's currency (ISO code) when known."""
    prefix = f"{currency} " if unit == "money" and currency else ""
    return "n/a" if value is None else prefix + FORMATS[unit].format(value)


def format_kpi(kpi: str, value: float | None, currency: str | None) -> str:
    """A kpi_anomalies value: gmv is money, paid_orders a count, the other KPIs are rates."""
    unit = {"gmv": "money", "paid_orders": "count"}.get(kpi, "percent")
    return format_value(value, unit, currency)
