"""Campaigns and their daily spend.

Every paid channel has an always-on campaign over the whole range, plus short promotion bursts and
the planted lift campaign. Sessions of a paid channel carry the utm_campaign of a campaign of that
channel active on their day; spend rows are derived from those sessions (clicks), so that ROAS and
CAC computed by the marts are plausible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.sample import vocab
from orchestration.sample.core import (
    date_col,
    format_ids,
    id_width,
    money_col,
    stream,
    strings,
)
from orchestration.sample.plan import Plan

ALWAYS_ON = (
    ("Brand search", "paid_search"),
    ("Generic search", "paid_search"),
    ("Social prospecting", "paid_social"),
    ("Weekly newsletter", "email"),
    ("Member SMS", "sms"),
    ("Affiliate network", "affiliate"),
)
BURST_THEMES = (
    "Spring sale",
    "Member days",
    "New arrivals",
    "Clearance",
    "Flash week",
    "Back to school",
    "Mid-autumn gifts",
    "Payday treats",
    "Winter warm-up",
)
BURST_CHANNELS = np.array([vocab.CH[c] for c in ("paid_search", "paid_social", "email", "sms")])
LIFT_CHANNEL = vocab.CH["paid_social"]
# Per channel: clicks per landed session, click-through rate, cost per click / per 1000 / per send.
CLICKS_PER_SESSION = {"paid_search": 1.12, "paid_social": 1.25, "email": 1.05, "sms": 1.05}
CTR = {"paid_search": 0.035, "paid_social": 0.012, "email": 0.025, "sms": 0.02, "affiliate": 0.01}
AFFILIATE_COMMISSION = 0.08


@dataclass(frozen=True)
class Campaigns:
    ids: pa.StringArray
    names: tuple[str, ...]
    types: tuple[str, ...]
    channel: np.ndarray  # index into vocab.CHANNELS
    first: np.ndarray  # first day (index, may be before the range)
    last: np.ndarray  # last day (index, may be after the range)
    weight: np.ndarray  # share of its channel's sessions while active
    lift: int  # index of the planted lift campaign, -1 if none

    def __len__(self) -> int:
        return len(self.names)


def plan_campaigns(plan: Plan) -> Campaigns:
    rng = stream(plan.seed, "campaigns")
    days = plan.days
    names: list[str] = []
    types: list[str] = []
    channel: list[int] = []
    first: list[int] = []
    last: list[int] = []
    weight: list[float] = []
    for name, ch in ALWAYS_ON:  # six fixed programmes
        names.append(name)
        types.append("always_on")
        channel.append(vocab.CH[ch])
        first.append(-int(rng.integers(30, 121)))
        last.append(days - 1 + int(rng.integers(0, 61)))
        weight.append(1.0)
    n_burst = max(1, days // 30)
    b_first = rng.integers(0, max(days - 5, 1), size=n_burst)
    b_len = rng.integers(5, 13, size=n_burst)
    b_channel = rng.choice(BURST_CHANNELS, size=n_burst)
    b_theme = rng.permutation(len(BURST_THEMES))
    for i in range(n_burst):  # a handful of bursts
        ch = int(b_channel[i])
        names.append(f"{BURST_THEMES[b_theme[i % len(BURST_THEMES)]]} ({vocab.CHANNELS[ch]})")
        types.append("retargeting" if ch == vocab.CH["paid_search"] else "promotion")
        channel.append(ch)
        first.append(int(b_first[i]))
        last.append(int(b_first[i] + b_len[i] - 1))
        weight.append(1.5)
    if plan.lift is not None:
        names.append("Mega sale")
        types.append("mega_sale")
        channel.append(LIFT_CHANNEL)
        first.append(plan.lift.first)
        last.append(plan.lift.last)
        weight.append(2.0)
    order = np.lexsort((np.array(names), np.array(first)))
    lift = -1
    if plan.lift is not None:
        lift = int(np.flatnonzero(order == len(names) - 1)[0])
    width = id_width(len(names), 3)
    return Campaigns(
        ids=format_ids("cmp", np.arange(1, len(names) + 1), width),
        names=tuple(names[i] for i in order),
        types=tuple(types[i] for i in order),
        channel=np.array(channel)[order],
        first=np.array(first)[order],
        last=np.array(last)[order],
        weight=np.array(weight)[order],
        lift=lift,
    )


def assign_campaigns(
    rng: np.random.Generator, camps: Campaigns, day: np.ndarray, channel: np.ndarray, days: int
) -> np.ndarray:
    """Campaign index per session (-1 for unpaid channels), among its channel's active campaigns.

    One flattened cumulative table over (day, channel, campaign) and a searchsorted: no per-row
    work and no (sessions x campaigns) matrix.
    """
    n_ch, n_c = len(vocab.CHANNELS), len(camps)
    d = np.arange(days)[:, None]
    active = (d >= camps.first[None, :]) & (d <= camps.last[None, :])  # (days, campaigns)
    table = np.zeros((days, n_ch, n_c))
    table[:, camps.channel, np.arange(n_c)] = active * camps.weight[None, :]
    flat = np.cumsum(table.ravel())
    block = (day * n_ch + channel) * n_c
    lo = np.where(block > 0, flat[np.maximum(block - 1, 0)], 0.0)
    hi = flat[block + n_c - 1]
    u = lo + rng.random(len(day)) * (hi - lo)
    idx = np.searchsorted(flat, u, side="right")
    camp = np.minimum(idx - block, n_c - 1)
    return np.where(hi > lo, camp, -1)


def campaigns_table(plan: Plan, camps: Campaigns, spend_cents: np.ndarray) -> dict:
    """The campaigns feed, delivered a week before each start (or on the first day)."""
    rng = stream(plan.seed, "campaign-budget")
    days = plan.days
    span = camps.last - camps.first + 1
    in_range = np.minimum(camps.last, days - 1) - np.maximum(camps.first, 0) + 1
    full = spend_cents * span / np.maximum(in_range, 1)
    budget = np.rint(full * rng.uniform(1.05, 1.35, size=len(camps)) / 10_000) * 10_000
    budget = np.maximum(budget, 10_000).astype(np.int64)
    dt = np.clip(camps.first - 7, 0, days - 1)
    return {
        "_dt": dt,
        "campaign_id": camps.ids,
        "campaign_name": strings(camps.names),
        "campaign_type": strings(camps.types),
        "channel": strings(vocab.CHANNELS).take(pa.array(camps.channel)),
        "start_date": date_col(plan.clock.epoch_day0 + camps.first),
        "end_date": date_col(plan.clock.epoch_day0 + camps.last),
        "budget": money_col(budget),
    }


def spend_table(
    plan: Plan,
    camps: Campaigns,
    session_day: np.ndarray,
    session_campaign: np.ndarray,
    order_day: np.ndarray,
    order_campaign: np.ndarray,
    order_value_cents: np.ndarray,
) -> tuple[dict, np.ndarray]:
    """Daily spend per active campaign; also returns total spend (cents) per campaign."""
    rng = stream(plan.seed, "spend")
    days, n_c = plan.days, len(camps)
    paid = session_campaign >= 0
    sessions = np.bincount(
        session_day[paid] * n_c + session_campaign[paid], minlength=days * n_c
    ).reshape(days, n_c)
    o = order_campaign >= 0
    revenue = np.bincount(
        order_day[o] * n_c + order_campaign[o], weights=order_value_cents[o], minlength=days * n_c
    ).reshape(days, n_c)
    d = np.arange(days)[:, None]
    active = (d >= camps.first[None, :]) & (d <= camps.last[None, :])
    row_day, row_camp = np.nonzero(active)  # ordered by day, then campaign
    n = len(row_day)
    ch_name = np.array(vocab.CHANNELS)[camps.channel[row_camp]]
    sess = sessions[row_day, row_camp]
    noise = rng.uniform(0.97, 1.03, size=n)
    cps = np.array([CLICKS_PER_SESSION.get(c, 1.1) for c in vocab.CHANNELS])
    clicks = np.rint(sess * cps[camps.channel[row_camp]] * noise).astype(np.int64)
    ctr = np.array([CTR.get(c, 0.02) for c in vocab.CHANNELS])[camps.channel[row_camp]]
    impressions = np.rint((clicks + 1) / ctr * rng.uniform(0.9, 1.1, size=n)).astype(np.int64)
    price = rng.uniform(0.9, 1.1, size=n)
    spend = np.select(
        [
            ch_name == "paid_search",
            ch_name == "paid_social",
            ch_name == "email",
            ch_name == "sms",
            ch_name == "affiliate",
        ],
        [
            clicks * 240.0 * price,  # cost per click 2.40 CNY
            impressions * 3.2 * price,  # CPM 32 CNY
            impressions * 0.3 * price,  # 0.003 CNY per e-mail sent
            impressions * 4.5 * price,  # 0.045 CNY per SMS sent
            revenue[row_day, row_camp] * AFFILIATE_COMMISSION + clicks * 5.0,
        ],
    )
    spend_cents = np.rint(spend).astype(np.int64)
    total = np.bincount(row_camp, weights=spend_cents, minlength=n_c)
    table = {
        "_dt": row_day,
        "spend_date": date_col(plan.clock.epoch_day0 + row_day),
        "channel": strings(vocab.CHANNELS).take(pa.array(camps.channel[row_camp])),
        "campaign_id": camps.ids.take(pa.array(row_camp)),
        "impressions": pa.array(impressions, type=pa.int64()),
        "clicks": pa.array(clicks, type=pa.int64()),
        "spend": money_col(spend_cents),
    }
    return table, total
