"""channel_attribution, product_sales_alerts and new_product_sales recomputed in pandas from the
landing files must equal the marts.

As tests/test_reconciliation.py: no warehouse SQL, deliveries deduplicated by key, timestamps in
the business time zone, sessions cut at 30-minute gaps, each KPI from its catalog definition
(section 8) and the rules the marts document (channels as the channel_group macro's rules).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import SampleRun
from test_reconciliation import SESSION_GAP, TZ, latest, local_date, read_feed, utc

WINDOW = pd.Timedelta(days=30)  # var attribution_window_days
ALERT_WEEKS, ALERT_Z, ALERT_MIN_UNITS = 4, 3, 5  # vars product_alert_*
NEW_PRODUCT_WEEKS = 12  # var new_product_weeks
MODELS = ("first_touch", "last_touch", "linear")

# ----------------------------------------------------------------- channel rules (channel_group)
SEARCH = "google bing baidu sogou 360 so360 haosou shenma yahoo yandex duckduckgo naver".split()
SOCIAL = (
    "weibo wechat weixin douyin tiktok xiaohongshu xhs redbook kuaishou bilibili qq qzone "
    "facebook fb instagram ig twitter x linkedin pinterest youtube reddit snapchat"
).split()
SEARCH_DOMAINS = (
    "google.com google.com.hk google.cn bing.com baidu.com sogou.com so.com sm.cn yahoo.com "
    "yandex.ru yandex.com duckduckgo.com naver.com"
).split()
SOCIAL_DOMAINS = (
    "weibo.com weibo.cn weixin.qq.com wechat.com douyin.com tiktok.com xiaohongshu.com "
    "xhslink.com kuaishou.com bilibili.com b23.tv qzone.qq.com facebook.com instagram.com "
    "twitter.com t.co x.com linkedin.com pinterest.com youtube.com reddit.com"
).split()
MEDIUMS = {
    "paid_search": {"paid_search", "paidsearch", "paid-search", "sem"},
    "paid_social": {"paid_social", "paidsocial", "paid-social", "social_paid", "social-paid"},
    "paid": {"cpc", "ppc", "cpm", "cpa", "cpv", "paid", "display", "banner", "retargeting"},
    "email": {"email", "e-mail", "e_mail", "edm", "newsletter"},
    "sms": {"sms", "text", "text_message"},
    "affiliate": {"affiliate", "affiliates", "cps", "partner", "partners"},
    "organic": {"organic", "organic_search", "seo"},
    "social": {
        "social", "social_media", "social-media", "social_network", "social-network",
        "organic_social", "sm",
    },
}  # fmt: skip
NONE = {"", "(none)", "none", "(not set)", "null"}
HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?([^/:?#]+)")


def _norm(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _host_in(host: str, names: list[str], domains: list[str]) -> bool:
    return host in names + domains or any(host.endswith("." + d) for d in domains)


def channel(source: object, medium: object, referrer: object) -> str:
    src, med, ref = _norm(source), _norm(medium), _norm(referrer)
    match = HOST.match(ref)
    host = match.group(1) if match else ""
    rules = [
        (med in MEDIUMS["paid_search"], "paid_search"),
        (med in MEDIUMS["paid_social"], "paid_social"),
        (med in MEDIUMS["paid"] and src in SOCIAL, "paid_social"),
        (med in MEDIUMS["paid"] and src in SEARCH, "paid_search"),
        (med in ("cpc", "ppc"), "paid_search"),
        (med in MEDIUMS["email"] or src in MEDIUMS["email"], "email"),
        (med in MEDIUMS["sms"] or src == "sms", "sms"),
        (med in MEDIUMS["affiliate"], "affiliate"),
        (med in MEDIUMS["organic"], "organic_search"),
        (med in MEDIUMS["social"], "social"),
        (med == "referral", "referral"),
        (med in NONE and src in SEARCH, "organic_search"),
        (med in NONE and src in SOCIAL, "social"),
    ]
    for hit, name in rules:
        if hit:
            return name
    if med in NONE and src in NONE | {"(direct)", "direct"}:
        if ref in NONE:
            return "direct"
        if _host_in(host, SEARCH, SEARCH_DOMAINS):
            return "organic_search"
        return "social" if _host_in(host, SOCIAL, SOCIAL_DOMAINS) else "referral"
    return "other"


# ------------------------------------------------------------------------------ the landing


def month_of(days: pd.Series) -> pd.Series:
    return pd.to_datetime(days).dt.to_period("M").dt.start_time.dt.date


def allocate(frame: pd.DataFrame, value: str, weight: str, group: str, order: str) -> pd.Series:
    """Cents of `value` spread over each group's rows by `weight`: the cumulative share rounded
    minus the one before it (the marts' rule, so a group's rows add up to its value)."""
    frame = frame.sort_values([group, order])
    cum = frame.groupby(group)[weight].cumsum() / frame.groupby(group)[weight].transform("sum")
    rounded = (frame[value] * cum).round(2)
    return (rounded - rounded.groupby(frame[group]).shift(fill_value=0.0)).reindex(frame.index)


@pytest.fixture(scope="module")
def landing(sample_run: SampleRun) -> dict[str, pd.DataFrame]:
    feeds = sample_run.landing
    orders = latest(read_feed(feeds, "orders"), ["order_id"], "updated_ts")
    items = latest(read_feed(feeds, "order_items"), ["order_id", "line_number"], None)
    payments = latest(read_feed(feeds, "payments"), ["payment_id"], None)
    events = latest(read_feed(feeds, "events"), ["event_id"], None)
    raw_products = read_feed(feeds, "products")

    items["line_amount"] = items["quantity"].astype(int) * items["unit_price"].astype(float)
    items["quantity"] = items["quantity"].astype(int)
    items["line_number"] = items["line_number"].astype(int)
    orders["merchandise"] = orders["order_id"].map(items.groupby("order_id")["line_amount"].sum())
    orders["order_value"] = (
        orders["merchandise"].fillna(0.0)
        - orders["discount_amount"].astype(float).fillna(0)
        + orders["shipping_fee"].astype(float).fillna(0)
    )
    orders["paid"] = orders["order_id"].isin(
        set(payments.loc[payments["status"] == "success", "order_id"])
    )
    orders["day"] = local_date(orders["order_ts"])
    orders["ts"] = utc(orders["order_ts"])
    lines = items.merge(orders[["order_id", "order_value", "paid", "day"]], on="order_id")
    lines["allocated"] = allocate(lines, "order_value", "line_amount", "order_id", "line_number")

    events["ts"] = utc(events["event_ts"])
    events["day"] = local_date(events["event_ts"])
    events = events.sort_values(["visitor_id", "ts", "event_id"])
    gap = events.groupby("visitor_id")["ts"].diff()
    events["session"] = (gap.isna() | (gap > SESSION_GAP)).cumsum()
    sessions = events.groupby("session").agg(
        visitor_id=("visitor_id", "first"),
        customer_id=("customer_id", "max"),
        start=("ts", "first"),
        end=("ts", "last"),
        utm_source=("utm_source", "first"),
        utm_medium=("utm_medium", "first"),
        referrer=("referrer", "first"),
    )
    sessions["channel"] = [
        channel(*row)
        for row in sessions[["utm_source", "utm_medium", "referrer"]].itertuples(index=False)
    ]
    session_days = pd.concat(
        [
            sessions["start"].dt.tz_convert(TZ).dt.date,
            sessions["end"].dt.tz_convert(TZ).dt.date,
            orders["day"],
        ]
    )
    return {
        "orders": orders,
        "lines": lines,
        "events": events,
        "sessions": sessions,
        "products": raw_products,
        "first_day": session_days.min(),
        "last_day": session_days.max(),
    }


def read_mart(sample_run: SampleRun, sql: str, keys: list[str]) -> pd.DataFrame:
    """A mart's rows by `keys`, its DATE columns as datetime.date (as the landing's days)."""
    frame = sample_run.df(sql)
    for column in ("month", "business_date", "launch_date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame.set_index(keys) if keys else frame


# ---------------------------------------------------------------------- channel_attribution


@pytest.fixture(scope="module")
def attribution(landing) -> pd.DataFrame:
    orders, events, sessions = landing["orders"], landing["events"], landing["sessions"]
    paid = orders[orders["paid"]].set_index("order_id")
    purchases = events[(events["event_type"] == "purchase") & events["order_id"].notna()]
    first = (
        purchases.sort_values(["ts", "event_id"]).drop_duplicates("order_id").set_index("order_id")
    )
    paid["touch"] = first["ts"].reindex(paid.index).fillna(paid["ts"])
    paid["visitor_id"] = (
        sessions["visitor_id"].reindex(first["session"]).set_axis(first.index).reindex(paid.index)
    )
    candidates = pd.concat(
        [
            paid.reset_index().merge(sessions.reset_index(), on="visitor_id"),
            paid.reset_index()
            .drop(columns="visitor_id")
            .merge(sessions.reset_index(), on="customer_id"),
        ],
        ignore_index=True,
    )
    inside = (candidates["start"] <= candidates["touch"]) & (
        candidates["start"] >= candidates["touch"] - WINDOW
    )
    journeys = candidates[inside].drop_duplicates(["order_id", "session"])
    journeys = journeys.sort_values(["order_id", "start", "session"])
    journeys["n"] = journeys.groupby("order_id").cumcount() + 1
    journeys["touches"] = journeys.groupby("order_id")["n"].transform("max")
    value = journeys["order_value"]
    credits = {
        "first_touch": journeys[journeys["n"] == 1].assign(credit=value),
        "last_touch": journeys[journeys["n"] == journeys["touches"]].assign(credit=value),
        "linear": journeys.assign(
            credit=(value * journeys["n"] / journeys["touches"]).round(2)
            - (value * (journeys["n"] - 1) / journeys["touches"]).round(2)
        ),
    }
    untracked = paid[~paid.index.isin(journeys["order_id"])].reset_index()
    untracked = untracked.assign(channel="unattributed", credit=untracked["order_value"])
    rows = []
    for model, frame in credits.items():
        both = pd.concat([frame, untracked]).assign(month=lambda f: month_of(f["day"]))
        grouped = both.groupby(["month", "channel"]).agg(
            attributed_revenue=("credit", "sum"), attributed_orders=("order_id", "nunique")
        )
        rows.append(grouped.assign(attribution_model=model))
    return pd.concat(rows).reset_index().set_index(["month", "channel", "attribution_model"])


def test_channel_attribution_matches_the_landing(sample_run: SampleRun, attribution):
    mart = read_mart(
        sample_run,
        "SELECT month, channel, attribution_model, attributed_orders, attributed_revenue "
        "FROM marts.channel_attribution",
        ["month", "channel", "attribution_model"],
    )
    got = mart.loc[attribution.index]
    assert (got["attributed_orders"] == attribution["attributed_orders"]).all()
    # linear credits are rounded per touch: a cent per order at most
    np.testing.assert_allclose(
        got["attributed_revenue"].astype(float),
        attribution["attributed_revenue"],
        rtol=0,
        atol=0.01 * attribution["attributed_orders"].max(),
    )
    others = mart.drop(attribution.index)
    assert (others["attributed_orders"] == 0).all() and (others["attributed_revenue"] == 0).all()


def test_every_model_adds_up_to_the_months_paid_revenue(sample_run: SampleRun, landing):
    """The invariant: under each model, the channels of a month (unattributed included) add up
    to the month's paid revenue, from the landing and as daily_sales has it."""
    paid = landing["orders"][landing["orders"]["paid"]]
    want = paid.groupby(month_of(paid["day"]))["order_value"].sum()
    mart = read_mart(
        sample_run,
        "SELECT month, attribution_model, sum(attributed_revenue) AS revenue, "
        "sum(order_credit) AS orders FROM marts.channel_attribution GROUP BY ALL",
        [],
    )
    sales = read_mart(
        sample_run,
        "SELECT date_trunc('month', business_date)::DATE AS month, sum(paid_revenue) AS revenue, "
        "sum(paid_orders) AS orders FROM marts.daily_sales GROUP BY ALL",
        ["month"],
    )
    assert set(mart["attribution_model"]) == set(MODELS)
    for row in mart.itertuples():
        assert row.revenue == sales.loc[row.month, "revenue"], row  # exact, in cents
        assert abs(float(row.revenue) - want.get(row.month, 0.0)) < 0.005, row
        assert abs(row.orders - sales.loc[row.month, "orders"]) < 1e-9, row


# --------------------------------------------------------------------- product_sales_alerts


def test_product_sales_alerts_match_the_landing(sample_run: SampleRun, landing):
    lines = landing["lines"][landing["lines"]["paid"]]
    units = lines.groupby(["day", "product_id"])["quantity"].sum()
    days = pd.date_range(landing["first_day"], landing["last_day"]).date
    grid = pd.DataFrame(0, index=days, columns=units.index.levels[1])
    grid.update(units.unstack().fillna(0).reindex(index=days, columns=grid.columns))
    rows = []
    for offset, day in enumerate(days):
        base = [grid.iloc[offset - 7 * k] for k in range(1, ALERT_WEEKS + 1) if offset >= 7 * k]
        window = [grid.iloc[offset - 7 * k] for k in range(ALERT_WEEKS + 1) if offset >= 7 * k]
        sold = pd.concat(window, axis=1).gt(0).any(axis=1)
        for product in sold[sold].index:
            values = np.array([b[product] for b in base], dtype=float)
            mean = values.mean() if len(values) else np.nan
            std = values.std(ddof=1) if len(values) > 1 else np.nan
            judged = len(values) >= ALERT_WEEKS and mean >= ALERT_MIN_UNITS and std > 0
            z = (grid.iloc[offset][product] - mean) / std if judged else np.nan
            rows.append((day, product, grid.iloc[offset][product], mean, std, z))
    want = pd.DataFrame(
        rows, columns=["business_date", "product_id", "units_sold", "mean", "std", "z"]
    ).set_index(["business_date", "product_id"])
    mart = read_mart(
        sample_run,
        "SELECT business_date, product_id, units_sold, baseline_mean AS mean, "
        "baseline_std AS std, z_score AS z, is_alert FROM marts.product_sales_alerts",
        ["business_date", "product_id"],
    )
    assert sorted(mart.index) == sorted(want.index)
    got = mart.loc[want.index]
    assert (got["units_sold"].to_numpy() == want["units_sold"].to_numpy()).all()
    for column in ("mean", "std", "z"):
        np.testing.assert_allclose(
            got[column].astype(float), want[column], rtol=1e-9, atol=1e-9, err_msg=column
        )
    assert (got["is_alert"] == (want["z"].abs() > ALERT_Z)).all()


# ------------------------------------------------------------------------ new_product_sales


def test_new_product_sales_match_the_landing(sample_run: SampleRun, landing):
    raw = landing["products"]
    first = raw.groupby("product_id")["_dt"].min()
    newest = latest(raw, ["product_id"], "updated_ts").set_index("product_id")
    given = pd.to_datetime(newest.get("launch_date", pd.Series(None, newest.index, object)))
    delivered = pd.to_datetime(first.where(first > first.min())).reindex(newest.index)
    launch = given.fillna(delivered).dropna().dt.date
    launch = launch[(launch >= landing["first_day"]) & (launch <= landing["last_day"])]

    def week(days: pd.Series, products: pd.Series) -> pd.Series:
        since = pd.to_datetime(days) - pd.to_datetime(products.map(launch))
        return since.dt.days // 7

    lines = landing["lines"]
    lines = lines[lines["paid"] & lines["product_id"].isin(launch.index)]
    lines = lines.assign(week=week(lines["day"], lines["product_id"]))
    lines = lines[lines["week"] >= 0]
    sales = lines.groupby(["product_id", "week"]).agg(
        units_sold=("quantity", "sum"), paid_revenue=("allocated", "sum")
    )
    events = landing["events"]
    views = events[
        (events["event_type"] == "page_view")
        & (events["page_type"] == "product")
        & events["product_id"].isin(launch.index)
    ]
    views = views.assign(week=week(views["day"], views["product_id"]))
    views = views.loc[views["week"] >= 0, ["product_id", "week", "visitor_id"]].drop_duplicates()
    viewers = views.groupby(["product_id", "week"]).size()
    bought = events.loc[events["event_type"] == "purchase", ["order_id", "visitor_id"]].merge(
        lines[["order_id", "product_id", "week"]], on="order_id"
    )
    converted = views.merge(bought.drop(columns="order_id").drop_duplicates())
    converted = converted.groupby(["product_id", "week"]).size()

    rows = []
    for product, day in launch.items():
        reached = (pd.Timestamp(landing["last_day"]) - pd.Timestamp(day)).days // 7
        for w in range(min(reached, NEW_PRODUCT_WEEKS) + 1):
            got = sales.loc[(product, w)] if (product, w) in sales.index else None
            units = int(got["units_sold"]) if got is not None else 0
            revenue = float(got["paid_revenue"]) if got is not None else 0.0
            rows.append((product, w, day, units, revenue, int(viewers.get((product, w), 0))))
    want = pd.DataFrame(
        rows,
        columns=["product_id", "week", "launch_date", "units_sold", "paid_revenue", "viewers"],
    ).set_index(["product_id", "week"])
    want["conversion_rate"] = [
        converted.get(key, 0) / v if v else np.nan for key, v in want["viewers"].items()
    ]
    want["previous"] = want.groupby(level="product_id")["units_sold"].shift()
    want["wow_growth"] = (want["units_sold"] - want["previous"]) / want["previous"].replace(
        0, np.nan
    )

    mart = read_mart(
        sample_run,
        "SELECT product_id, weeks_since_launch AS week, launch_date, units_sold, paid_revenue, "
        "viewers, conversion_rate, wow_growth FROM marts.new_product_sales",
        ["product_id", "week"],
    )
    assert sorted(mart.index) == sorted(want.index)
    assert len(want) > 0, "the sample plants product launches"
    got = mart.loc[want.index]
    for column in ("launch_date", "units_sold", "viewers"):
        assert (got[column].to_numpy() == want[column].to_numpy()).all(), column
    np.testing.assert_allclose(got["paid_revenue"].astype(float), want["paid_revenue"], atol=0.01)
    for column in ("conversion_rate", "wow_growth"):
        np.testing.assert_allclose(got[column].astype(float), want[column], rtol=1e-12)
