"""Headline KPIs recomputed independently in pandas from the landing files must equal the marts.

Nothing here uses the warehouse's SQL: files are read with pandas/pyarrow, deliveries are
deduplicated by key and `updated_ts`, timestamps converted to the business time zone, sessions cut
at 30-minute gaps, and each KPI computed from its catalog definition.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SampleRun

TZ = "Asia/Shanghai"
SESSION_GAP = pd.Timedelta(minutes=30)


def read_feed(landing: Path, feed: str) -> pd.DataFrame:
    """Every row of the feed's files with its dt, file and row number. A copy: each landing is
    read once per session (the reconciliation modules share the sample's) and callers add
    columns to their frames."""
    return _read_feed(landing, feed).copy()


@functools.cache
def _read_feed(landing: Path, feed: str) -> pd.DataFrame:
    frames = []
    for path in sorted((landing / feed).glob("dt=*/*")):
        name = path.name
        if name.endswith(".parquet"):
            frame = pd.read_parquet(path)
        elif name.endswith((".jsonl", ".jsonl.gz")):
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        frame["_dt"] = path.parent.name.removeprefix("dt=")
        frame["_file"] = name
        frame["_row"] = np.arange(len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def utc(series: pd.Series) -> pd.Series:
    """ISO 8601 text or timestamps → tz-aware UTC; naive values are UTC (landing contract)."""
    return pd.to_datetime(series.astype("string"), utc=True, format="ISO8601")


def local_date(series: pd.Series) -> pd.Series:
    return utc(series).dt.tz_convert(TZ).dt.date


def latest(frame: pd.DataFrame, key: list[str], updated: str | None) -> pd.DataFrame:
    order = ([updated] if updated else []) + ["_dt", "_file", "_row"]
    if updated:
        frame = frame.assign(**{updated: utc(frame[updated])})
    return frame.sort_values(order).drop_duplicates(key, keep="last")


@pytest.fixture(scope="module")
def expected(sample_run: SampleRun) -> dict[str, pd.DataFrame]:
    landing = sample_run.landing
    orders = latest(read_feed(landing, "orders"), ["order_id"], "updated_ts")
    items = latest(read_feed(landing, "order_items"), ["order_id", "line_number"], None)
    payments = latest(read_feed(landing, "payments"), ["payment_id"], None)
    events = latest(read_feed(landing, "events"), ["event_id"], None)
    reviews = latest(read_feed(landing, "reviews"), ["review_id"], None)

    items["value"] = items["quantity"].astype(int) * items["unit_price"].astype(float)
    merchandise = items.groupby("order_id")["value"].sum()
    orders["merchandise"] = orders["order_id"].map(merchandise).fillna(0.0)
    orders["order_value"] = (
        orders["merchandise"]
        - orders["discount_amount"].astype(float).fillna(0)
        + orders["shipping_fee"].astype(float).fillna(0)
    )
    paid_ids = set(payments.loc[payments["status"] == "success", "order_id"])
    orders["paid"] = orders["order_id"].isin(paid_ids)
    orders["day"] = local_date(orders["order_ts"])

    daily = orders.groupby("day").agg(gmv=("merchandise", "sum"))
    paid = orders[orders["paid"]]
    daily = daily.join(
        paid.groupby("day").agg(
            paid_revenue=("order_value", "sum"), paid_orders=("order_id", "size")
        )
    ).fillna(0)

    events["ts"] = utc(events["event_ts"])
    events = events.sort_values(["visitor_id", "ts", "event_id"])
    new_session = events.groupby("visitor_id")["ts"].diff().isna() | (
        events.groupby("visitor_id")["ts"].diff() > SESSION_GAP
    )
    events["session"] = new_session.cumsum()
    sessions = events.groupby("session").agg(
        start=("ts", "first"),
        purchase=("event_type", lambda s: (s == "purchase").any()),
    )
    sessions["day"] = sessions["start"].dt.tz_convert(TZ).dt.date
    traffic = sessions.groupby("day").agg(sessions=("purchase", "size"), buyers=("purchase", "sum"))
    traffic["session_conversion_rate"] = traffic["buyers"] / traffic["sessions"]

    paid = paid.assign(month=pd.to_datetime(paid["day"]).dt.to_period("M").dt.start_time.dt.date)
    per_customer = paid.groupby(["month", "customer_id"]).size()
    monthly = (
        per_customer.groupby("month")
        .agg(buyers="size", repeat=lambda s: (s >= 2).sum())
        .assign(repurchase_rate=lambda f: f["repeat"] / f["buyers"])
    )

    reviews["day"] = local_date(reviews["review_ts"])
    ratings = reviews.groupby("day").agg(avg_rating=("rating", lambda s: s.astype(int).mean()))
    return {"daily": daily, "traffic": traffic, "monthly": monthly, "ratings": ratings}


def assert_mart_matches(
    mart: pd.DataFrame, want: pd.DataFrame, exact: list[str], close: dict[str, float]
) -> pd.DataFrame:
    """Compare the mart's rows for `want`'s keys: `exact` columns equal, `close` ones within an
    absolute tolerance. Returns the mart's other rows (days the landing has no activity on)."""
    got = mart.loc[want.index]
    for column in exact:
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    for column, atol in close.items():
        np.testing.assert_allclose(
            got[column].astype(float), want[column], rtol=1e-12, atol=atol, err_msg=column
        )
    return mart.drop(want.index)


def test_daily_gmv_paid_revenue_and_paid_orders(sample_run: SampleRun, expected):
    mart = sample_run.df(
        "SELECT business_date AS day, gmv, paid_revenue, paid_orders FROM marts.daily_sales"
    ).set_index("day")
    others = assert_mart_matches(
        mart, expected["daily"], ["paid_orders"], {"gmv": 0.005, "paid_revenue": 0.005}
    )
    assert (others[["gmv", "paid_revenue", "paid_orders"]] == 0).all().all()


def test_daily_sessions_and_session_conversion_rate(sample_run: SampleRun, expected):
    mart = sample_run.df(
        "SELECT business_date AS day, sessions, session_conversion_rate FROM marts.daily_traffic"
    ).set_index("day")
    others = assert_mart_matches(
        mart, expected["traffic"], ["sessions"], {"session_conversion_rate": 0.0}
    )
    assert (others["sessions"] == 0).all()


def test_monthly_repurchase_rate(sample_run: SampleRun, expected):
    mart = sample_run.df(
        "SELECT month, buyers, repurchase_rate FROM marts.monthly_customers"
    ).set_index("month")
    assert_mart_matches(mart, expected["monthly"], ["buyers"], {"repurchase_rate": 0.0})


def test_daily_avg_rating(sample_run: SampleRun, expected):
    mart = sample_run.df(
        "SELECT business_date AS day, review_count, avg_rating FROM marts.daily_satisfaction"
    ).set_index("day")
    others = assert_mart_matches(mart, expected["ratings"], [], {"avg_rating": 0.0})
    assert others["avg_rating"].isna().all()
