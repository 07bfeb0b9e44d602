"""The second-round traffic marts recomputed independently in pandas from the landing files.

hourly_activity, page_paths, search_terms and product_engagement: deliveries deduplicated by
key, timestamps in the business time zone, sessions cut at 30-minute gaps, each KPI from its
catalog definition (kpi-catalog section 8). Nothing here reads the warehouse's own tables but
the mart under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SampleRun
from test_reconciliation import SESSION_GAP, TZ, latest, read_feed, utc

PATH_STEPS = 4  # dbt var page_path_steps
PATH_TOP = 20  # dbt var page_path_top
ENGAGEMENT_EVENTS = {"like": "likes", "comment": "comments", "share": "shares"}


def sessionized(landing: Path) -> pd.DataFrame:
    """Every event (newest version per event_id) with its session number and local time."""
    events = latest(read_feed(landing, "events"), ["event_id"], None)
    events["ts"] = utc(events["event_ts"])
    events = events.sort_values(["visitor_id", "ts", "event_id"]).reset_index(drop=True)
    gap = events.groupby("visitor_id")["ts"].diff()
    events["session"] = (gap.isna() | (gap > SESSION_GAP)).cumsum()
    events["local"] = events["ts"].dt.tz_convert(TZ)
    events["day"] = events["local"].dt.date
    return events


def sessions_of(events: pd.DataFrame) -> pd.DataFrame:
    """One row per session: its local start (day, hour, month) and whether it has a purchase."""
    sessions = events.groupby("session").agg(
        start=("local", "first"),
        converted=("event_type", lambda s: bool((s == "purchase").any())),
    )
    sessions["day"] = sessions["start"].dt.date
    sessions["hour"] = sessions["start"].dt.hour
    sessions["month"] = sessions["day"].map(lambda day: day.replace(day=1))
    return sessions


def paid_orders(landing: Path) -> pd.DataFrame:
    """The paid orders (a successful payment attempt) with their value and local order time."""
    orders = latest(read_feed(landing, "orders"), ["order_id"], "updated_ts")
    items = latest(read_feed(landing, "order_items"), ["order_id", "line_number"], None)
    payments = latest(read_feed(landing, "payments"), ["payment_id"], None)
    items["value"] = items["quantity"].astype(int) * items["unit_price"].astype(float)
    orders["order_value"] = (
        orders["order_id"].map(items.groupby("order_id")["value"].sum()).fillna(0.0)
        - orders["discount_amount"].astype(float).fillna(0)
        + orders["shipping_fee"].astype(float).fillna(0)
    )
    paid = set(payments.loc[payments["status"] == "success", "order_id"])
    orders = orders[orders["order_id"].isin(paid)].copy()
    local = utc(orders["order_ts"]).dt.tz_convert(TZ)
    orders["day"], orders["hour"] = local.dt.date, local.dt.hour
    return orders


def page_paths(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """page_paths from the catalog: per month the top paths by sessions, the rest 'other'."""
    views = events[events["event_type"] == "page_view"].copy()
    views["page"] = views["page_type"].fillna("unknown")
    per_session = views.groupby("session")["page"].agg(list)
    steps = per_session.map(
        lambda pages: [p for i, p in enumerate(pages) if i == 0 or p != pages[i - 1]]
    )
    frame = pd.DataFrame(
        {
            "path": steps.map(lambda s: ">".join(s[:PATH_STEPS])),
            "exit": per_session.map(lambda pages: pages[-1]),
        }
    ).join(sessions[["month", "converted"]])
    totals = frame[frame["path"] != "other"].groupby(["month", "path"]).size().rename("n")
    ranked = totals.reset_index().sort_values(["month", "n", "path"], ascending=[True, False, True])
    ranked["rank"] = ranked.groupby("month").cumcount() + 1
    kept = set(map(tuple, ranked.loc[ranked["rank"] <= PATH_TOP, ["month", "path"]].to_numpy()))
    frame["path"] = [
        path if (month, path) in kept else "other"
        for month, path in zip(frame["month"], frame["path"], strict=True)
    ]
    out = frame.groupby(["month", "path"]).agg(
        sessions=("converted", "size"), converted_sessions=("converted", "sum")
    )
    exits = frame.groupby(["month", "path", "exit"]).size().rename("n").reset_index()
    exits = exits.sort_values(["month", "path", "n", "exit"], ascending=[True, True, False, True])
    first = exits.drop_duplicates(["month", "path"]).set_index(["month", "path"])
    out["exit_page_type"] = first["exit"]
    out["exit_page_sessions"] = first["n"]
    out["conversion_rate"] = out["converted_sessions"] / out["sessions"]
    return out


def read_mart(sample_run: SampleRun, sql: str, keys: list[str]) -> pd.DataFrame:
    """The mart's rows indexed by its grain, DATE keys as datetime.date (as the expected side)."""
    frame = sample_run.df(sql)
    for key in keys:
        if pd.api.types.is_datetime64_any_dtype(frame[key]):
            frame[key] = frame[key].dt.date
    return frame.set_index(keys)


def assert_close(got: pd.Series, want: pd.Series) -> None:
    """Ratios equal up to float rounding, NULL where the expected one is undefined (NaN)."""
    np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-12, err_msg=got.name)


@pytest.fixture(scope="module")
def events(sample_run: SampleRun) -> pd.DataFrame:
    return sessionized(sample_run.landing)


def test_hourly_activity(sample_run: SampleRun, events: pd.DataFrame):
    sessions = sessions_of(events)
    want = sessions.groupby(["day", "hour"]).agg(
        sessions=("converted", "size"), converted_sessions=("converted", "sum")
    )
    orders = paid_orders(sample_run.landing).groupby(["day", "hour"])
    want = want.join(
        orders.agg(paid_orders=("order_id", "size"), paid_revenue=("order_value", "sum")),
        how="outer",
    ).fillna(0)
    mart = read_mart(
        sample_run,
        "select business_date as day, hour_of_day as hour, sessions, converted_sessions, "
        "paid_orders, paid_revenue, session_conversion_rate from marts.hourly_activity",
        ["day", "hour"],
    )

    days = mart.index.get_level_values("day")
    assert len(mart) == 24 * days.nunique()
    assert (np.diff(sorted(days.unique())) == pd.Timedelta(days=1)).all()
    got = mart.loc[want.index]
    for column in ("sessions", "converted_sessions", "paid_orders"):
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    assert (got["paid_revenue"].astype(float) - want["paid_revenue"]).abs().max() < 0.005
    rate = want["converted_sessions"] / want["sessions"].where(want["sessions"] > 0)
    assert_close(got["session_conversion_rate"], rate)
    others = mart.drop(want.index)
    assert (others[["sessions", "paid_orders", "paid_revenue"]] == 0).all().all()
    assert others["session_conversion_rate"].isna().all()


def test_page_paths(sample_run: SampleRun, events: pd.DataFrame):
    want = page_paths(events, sessions_of(events))
    mart = read_mart(sample_run, "select * from marts.page_paths", ["month", "path"])
    assert sorted(mart.index) == sorted(want.index)
    got = mart.loc[want.index]
    for column in ("sessions", "converted_sessions", "exit_page_type", "exit_page_sessions"):
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    assert_close(got["conversion_rate"], want["conversion_rate"])
    assert mart.groupby("month").size().max() <= PATH_TOP + 1


def test_search_terms(sample_run: SampleRun, events: pd.DataFrame):
    searches = events[events["event_type"] == "search"].copy()
    searches["query"] = searches["search_query"].astype("string").str.strip(" ").str.lower()
    searches = searches[searches["query"].fillna("") != ""]
    searches["month"] = searches["day"].map(lambda day: day.replace(day=1))
    per_session = (
        searches.groupby(["month", "query", "session"])
        .agg(searches=("ts", "size"), first=("ts", "min"), visitor=("visitor_id", "first"))
        .reset_index()
    )
    purchases = events[events["event_type"] == "purchase"].groupby("session")["ts"].max()
    last_purchase = per_session["session"].map(purchases)
    per_session["converted"] = last_purchase.notna() & (last_purchase > per_session["first"])
    want = per_session.groupby(["month", "query"]).agg(
        searches=("searches", "sum"),
        searching_visitors=("visitor", "nunique"),
        searching_sessions=("converted", "size"),
        converted_sessions=("converted", "sum"),
    )
    mart = read_mart(
        sample_run,
        "select month, search_query as query, * exclude (month, search_query) "
        "from marts.search_terms",
        ["month", "query"],
    )

    assert len(want) > 0, "the sample plants search queries"
    assert sorted(mart.index) == sorted(want.index)
    got = mart.loc[want.index]
    for column in want.columns:
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    rate = want["converted_sessions"] / want["searching_sessions"]
    assert_close(got["search_conversion_rate"], rate)


def test_product_engagement(sample_run: SampleRun, events: pd.DataFrame):
    named = events[events["product_id"].notna()].copy()
    named["view"] = (named["event_type"] == "page_view") & (named["page_type"] == "product")
    named["viewer"] = named["visitor_id"].where(named["view"])
    for event_type, column in {**ENGAGEMENT_EVENTS, "add_to_cart": "add_to_carts"}.items():
        named[column] = named["event_type"] == event_type
    counted = ["likes", "comments", "shares", "add_to_carts"]
    named = named[named["view"] | named[counted].any(axis=1)]
    want = named.groupby(["day", "product_id"]).agg(
        product_views=("view", "sum"),
        viewers=("viewer", "nunique"),
        **{c: (c, "sum") for c in counted},
    )
    landing = sample_run.landing
    items = latest(read_feed(landing, "order_items"), ["order_id", "line_number"], None)
    lines = items.merge(paid_orders(landing)[["order_id", "day"]], on="order_id")
    purchases = lines.groupby(["day", "product_id"]).size().rename("purchases")
    want = want.join(purchases, how="outer").fillna(0).astype(int)
    mart = read_mart(
        sample_run,
        "select business_date as day, * exclude (business_date) from marts.product_engagement",
        ["day", "product_id"],
    )

    assert sorted(mart.index) == sorted(want.index)
    got = mart.loc[want.index]
    for column in want.columns:
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    views = want["product_views"].where(want["product_views"] > 0)
    assert_close(got["view_to_cart_rate"], want["add_to_carts"] / views)
    assert_close(got["view_to_purchase_rate"], want["purchases"] / views)
