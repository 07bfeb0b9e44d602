"""Visitors and sessions: who visits when, from which channel, how deep, and who buys.

A session is planned as a whole (start, duration, how many events of each kind) before any event
exists; the events module expands sessions into events day by day. Order of work: 1. visitors
(pre-existing ones, some of them customers, and new ones each day); 2. sessions per day from the
plan (new visitors' first visits plus returning visits drawn by visit weight); 3. channel,
source, campaign, landing page; 4. sign-ups (in a future customer's 1st-3rd session) and
purchases (the planned number per day, by buying propensity among signed-in sessions); 5. depth
and event counts, hence duration; sessions of one visitor are spaced more than 30 minutes
apart, so that sessionising the events gives back exactly these sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.sample import vocab
from orchestration.sample.core import (
    SESSION_TIMEOUT_S,
    choice,
    choice_from_u,
    group_rank,
    local_times,
    pick_exact,
    runs,
    strat_uniform,
    stream,
)
from orchestration.sample.marketing import Campaigns, assign_campaigns
from orchestration.sample.plan import EXPERIMENT_EFFECT, Plan

PRE_VISITORS = 1_000_000  # visitors seen before the range, at scale 1
PRE_CUSTOMERS = 60_000  # registered before the range, at scale 1
FUTURE_CUSTOMER_SHARE = 0.025  # new visitors who will sign up
CUSTOMER_VISIT_WEIGHT = 12.0  # customers come back far more often than anonymous visitors
SIGNUP_SESSION_MIX = np.array([0.3, 0.4, 0.3])  # sign up in the 1st, 2nd or 3rd session
SIGNUP_SESSION_BOOST = 2.0  # people often sign up to check out
# The planted experiment effect: treatment visitors buy more often (and sign up more often).
# Purchase weights in the window (the daily total is fixed, so only their ratio matters) and the
# sign-up ratio are tuned so that visitor-level conversion of treatment comes out at about 2-2.5x
# control's: significant at p < 0.05 even at scale 0.002 over 90 days.
EXPERIMENT_TREATMENT_WEIGHT = 2.5
EXPERIMENT_CONTROL_WEIGHT = 0.4
EXPERIMENT_SIGNUP_RATIO = 1.5
# Churners buy less often for FADE_DAYS before they stop (plants.churn_days).
FADE_DAYS = 45
FADE = 0.4
MEAN_EVENT_GAP_S = 40.0
SESSION_SPACING_S = SESSION_TIMEOUT_S + 60

# Kinds of events a session is planned with (columns of Sessions.counts), in expansion order.
N_KINDS = 15
EV_LANDING, EV_BROWSE, EV_IMPRESSION, EV_CLICK, EV_SEARCH = range(5)
EV_PRODUCT, EV_LIKE, EV_SHARE, EV_COMMENT = range(5, 9)
EV_CART_ADD, EV_CART_PAGE, EV_CART_REMOVE = range(9, 12)
EV_CHECKOUT_PAGE, EV_CHECKOUT, EV_PURCHASE = range(12, N_KINDS)

DEPTH_BOUNCE, DEPTH_BROWSE, DEPTH_PRODUCT, DEPTH_CART, DEPTH_CHECKOUT, DEPTH_PURCHASE = range(6)


@dataclass(frozen=True)
class Visitors:
    n_pre: int
    arrival: np.ndarray  # day of the first visit; -1 for visitors from before the range
    device: np.ndarray  # index into contract.DEVICES (fixed: a visitor id is a device cookie)
    weight: np.ndarray  # visit intensity
    kind: np.ndarray  # 0 anonymous, 1 customer before the range, 2 signs up in the range
    variant: np.ndarray  # (2, visitors): 1 = treatment of [effect experiment, null experiment]
    propensity: np.ndarray  # buying propensity of customers

    def __len__(self) -> int:
        return len(self.arrival)


@dataclass(frozen=True)
class Sessions:
    """All sessions, ordered by start time (then visitor); index = global session number."""

    visitor: np.ndarray
    start: np.ndarray  # UTC epoch seconds of the first event
    duration: np.ndarray  # seconds from first to last event
    day: np.ndarray  # local business day of the start
    channel: np.ndarray
    source: np.ndarray  # index into vocab.SOURCES
    campaign: np.ndarray  # campaign index or -1
    landing: np.ndarray  # page type of the landing page view
    counts: np.ndarray  # (sessions, N_KINDS) planned event counts
    purchase: np.ndarray  # bool: the session ends with a purchase
    items: np.ndarray  # order lines of the purchase (0 otherwise)
    signup: np.ndarray  # bool: the visitor signs up in this session
    signup_ts: np.ndarray  # sign-up time in signup sessions (0 otherwise)

    def __len__(self) -> int:
        return len(self.visitor)

    @property
    def end(self) -> np.ndarray:
        return self.start + self.duration


def _paired_variants(rng: np.random.Generator, kind: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Treatment flags balanced on what drives buying: visitors sorted by (customer kind, buying
    score) are paired and one of each pair is treated. Like a stratified rollout, it keeps chance
    imbalance from faking an effect in the experiment that has none."""
    order = np.lexsort((score, kind))
    flip = rng.integers(0, 2, size=(len(order) + 1) // 2)
    pos = np.arange(len(order))
    variant = np.empty(len(order), dtype=np.int8)
    variant[order] = (flip[pos // 2] + pos) % 2
    return variant


def make_visitors(plan: Plan) -> Visitors:
    rng = stream(plan.seed, "visitors")
    n_pre = max(1, round(PRE_VISITORS * plan.scale))
    n_cust = min(n_pre, max(1, round(PRE_CUSTOMERS * plan.scale)))
    arrival = np.concatenate(
        [np.full(n_pre, -1), np.repeat(np.arange(plan.days), plan.new_sessions)]
    )
    n = len(arrival)
    device = choice(rng, n, vocab.DEVICE_MIX)
    kind = np.zeros(n, dtype=np.int8)
    kind[rng.choice(n_pre, size=n_cust, replace=False)] = 1
    weight = rng.lognormal(-0.72, 1.2, size=n) * vocab.DEVICE_VISIT_WEIGHT[device]
    propensity = rng.lognormal(0.0, 1.0, size=n)
    variant = np.stack([_paired_variants(rng, kind, propensity * weight) for _ in range(2)])
    # New visitors arriving during the effect experiment sign up more often in treatment.
    window = plan.experiments[EXPERIMENT_EFFECT]
    in_exp = window.contains(arrival)
    r = EXPERIMENT_SIGNUP_RATIO
    share = FUTURE_CUSTOMER_SHARE * np.where(
        in_exp, np.where(variant[0] == 1, 2 * r / (1 + r), 2 / (1 + r)), 1.0
    )
    future = (arrival >= 0) & (rng.random(n) < share)
    kind[future] = 2
    weight = weight * np.where(kind > 0, CUSTOMER_VISIT_WEIGHT, 1.0)
    return Visitors(n_pre, arrival, device, weight, kind, variant, propensity)


def _visits(rng: np.random.Generator, plan: Plan, vis: Visitors) -> tuple[np.ndarray, ...]:
    """(day, visitor, is_new) of every session, day by day: first visits take the new visitors in
    arrival order, returning visits are drawn by weight among visitors who arrived before."""
    day = np.repeat(np.arange(plan.days), plan.sessions)
    _, within = runs(plan.sessions)
    is_new = within < plan.new_sessions[day]
    visitor = np.empty(len(day), dtype=np.int64)
    visitor[is_new] = vis.n_pre + np.arange(int(is_new.sum()))
    before = vis.n_pre + np.cumsum(plan.new_sessions) - plan.new_sessions  # arrived before day
    cumw = np.cumsum(vis.weight)
    ret_day = day[~is_new]
    limit = before[ret_day]
    u = rng.random(len(ret_day)) * cumw[limit - 1]
    visitor[~is_new] = np.minimum(np.searchsorted(cumw, u, side="right"), limit - 1)
    return day, visitor, is_new


def _channels(
    rng: np.random.Generator, is_new: np.ndarray, device: np.ndarray, lift: np.ndarray
) -> np.ndarray:
    app = device == vocab.APP_DEVICE
    channel = np.empty(len(is_new), dtype=np.int64)
    for mask, mix in (  # three visitor groups, each with its own channel mix
        (app, vocab.CHANNEL_MIX_APP),
        (~app & is_new, vocab.CHANNEL_MIX_NEW),
        (~app & ~is_new, vocab.CHANNEL_MIX_RETURNING),
    ):
        channel[mask] = choice(rng, int(mask.sum()), mix)
    channel[lift] = vocab.CH["paid_social"]
    return channel


def _by_channel(rng: np.random.Generator, channel: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Draw from a per-channel mix (rows of table), one channel at a time."""
    out = np.zeros(len(channel), dtype=np.int64)
    for ch in range(len(vocab.CHANNELS)):
        mask = channel == ch
        out[mask] = choice(rng, int(mask.sum()), table[ch])
    return out


def _source_table() -> np.ndarray:
    table = np.zeros((len(vocab.CHANNELS), len(vocab.SOURCES)))
    table[vocab.SOURCE_CHANNEL, np.arange(len(vocab.SOURCES))] = vocab.SOURCE_WEIGHT
    return table


def _depth_table() -> np.ndarray:
    rest = vocab.DEPTH_BASE[1:] / vocab.DEPTH_BASE[1:].sum()
    b = vocab.CHANNEL_BOUNCE[:, None]
    return np.hstack([b, (1 - b) * rest[None, :]])


def _event_counts(rng: np.random.Generator, depth: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Planned number of events of each kind per session, by depth (see module doc)."""
    n = len(depth)
    c = np.zeros((n, N_KINDS), dtype=np.uint8)  # 10M sessions at scale 1: keep it small
    deep = depth >= DEPTH_BROWSE
    prod = depth >= DEPTH_PRODUCT
    cart = depth >= DEPTH_CART
    buy = depth == DEPTH_PURCHASE
    c[:, EV_LANDING] = 1
    # A browse session needs a second page view, or it would be a bounce.
    c[:, EV_BROWSE] = np.where(deep, rng.poisson(0.6, n) + (depth == DEPTH_BROWSE), 0)
    c[:, EV_IMPRESSION] = rng.poisson(np.where(deep, 1.2, 0.4))
    c[:, EV_CLICK] = np.where(deep, rng.binomial(c[:, EV_IMPRESSION], 0.08), 0)
    c[:, EV_SEARCH] = deep & (rng.random(n) < 0.25)
    c[:, EV_PRODUCT] = np.where(buy, items + rng.poisson(0.5, n), prod * (1 + rng.poisson(0.7, n)))
    c[:, EV_LIKE] = prod & (rng.random(n) < 0.05)
    c[:, EV_SHARE] = prod & (rng.random(n) < 0.02)
    c[:, EV_COMMENT] = prod & (rng.random(n) < 0.015)
    c[:, EV_CART_REMOVE] = cart & (rng.random(n) < 0.15)
    # In a purchase session the cart holds the order lines (+ the item removed again).
    c[:, EV_CART_ADD] = np.where(
        buy, items + c[:, EV_CART_REMOVE], cart * (1 + rng.poisson(0.2, n))
    )
    c[:, EV_CART_PAGE] = cart
    c[:, EV_CHECKOUT_PAGE] = depth >= DEPTH_CHECKOUT
    c[:, EV_CHECKOUT] = depth >= DEPTH_CHECKOUT
    c[:, EV_PURCHASE] = buy
    return c


def _space_out(
    visitor: np.ndarray, start: np.ndarray, duration: np.ndarray, gap: np.ndarray
) -> np.ndarray:
    """Push sessions later so that each starts at least `gap` after the previous session of the
    same visitor ended: t'_i = max(t_i, t'_{i-1} + dur_{i-1} + gap_{i-1}), solved for all
    visitors at once as a cumulative maximum with per-visitor offsets."""
    order = np.lexsort((start, visitor))
    v = visitor[order]
    t = start[order]
    step = duration[order] + gap[order]
    excl = np.cumsum(step) - step
    first = np.ones(len(v), dtype=bool)
    first[1:] = v[1:] != v[:-1]
    group = np.cumsum(first) - 1
    group_excl = excl[first][group]
    c = excl - group_excl  # sum of steps of earlier sessions of this visitor
    span = int(t.max() - t.min() + c.max() + 1) if len(t) else 1
    shifted = np.maximum.accumulate((t - c) + group * span) - group * span
    out = np.empty_like(start)
    out[order] = shifted + c
    return out


def make_sessions(plan: Plan, vis: Visitors, camps: Campaigns, stop: np.ndarray) -> Sessions:
    """Sessions of every day; `stop` per visitor: the day a churner stops buying (see plants)."""
    rng = stream(plan.seed, "sessions")
    day, visitor, is_new = _visits(rng, plan, vis)
    n = len(day)
    lift = pick_exact(rng, day, plan.lift_sessions, np.where(is_new, 3.0, 1.0))
    device = vis.device[visitor]
    channel = _channels(rng, is_new, device, lift)
    source = _by_channel(rng, channel, _source_table())
    campaign = assign_campaigns(rng, camps, day, channel, plan.days)
    if camps.lift >= 0:
        campaign[lift] = camps.lift
    landing = _by_channel(rng, channel, vocab.LANDING_MIX)
    start = local_times(rng, plan.clock, day, vocab.HOUR_WEIGHTS)

    # Sign-ups: the k-th session of a future customer (k drawn, capped by their session count).
    ordinal = group_rank(visitor, start)
    n_sess = np.bincount(visitor, minlength=len(vis))
    j = np.minimum(choice(rng, len(vis), SIGNUP_SESSION_MIX), np.maximum(n_sess - 1, 0))
    j = np.where(vis.kind == 1, 0, np.where(vis.kind == 2, j, np.iinfo(np.int64).max))
    signed_in = ordinal >= j[visitor]
    signup = (vis.kind[visitor] == 2) & (ordinal == j[visitor])

    # Purchases: exactly the planned number per day, among signed-in sessions.
    in_exp = plan.experiments[EXPERIMENT_EFFECT].contains(day)
    exp_weight = np.where(
        vis.variant[0, visitor] == 1, EXPERIMENT_TREATMENT_WEIGHT, EXPERIMENT_CONTROL_WEIGHT
    )
    w = (
        vis.propensity[visitor]
        * vocab.DEVICE_CONVERSION[device]
        * vocab.CHANNEL_CONVERSION[channel]
        * np.where(signup, SIGNUP_SESSION_BOOST, 1.0)
        * np.where(in_exp, exp_weight, 1.0)
        * np.where(day >= stop[visitor], 0.0, np.where(day >= stop[visitor] - FADE_DAYS, FADE, 1))
        * signed_in
    )
    purchase = pick_exact(rng, day, plan.conversions, w)
    items = np.zeros(n, dtype=np.int64)
    items[purchase] = 1 + choice_from_u(strat_uniform(rng, day[purchase]), vocab.ITEMS_MIX)
    depth = _by_channel(rng, channel, _depth_table())
    depth[purchase] = DEPTH_PURCHASE
    counts = _event_counts(rng, depth, items)
    n_events = counts.sum(axis=1, dtype=np.int64)
    duration = np.where(
        n_events > 1, rng.gamma(np.maximum(n_events - 1, 1), MEAN_EVENT_GAP_S), 0.0
    ).astype(np.int64)

    gap = SESSION_SPACING_S + rng.integers(0, 1800, size=n)
    start = _space_out(visitor, start, duration, gap)
    # Sessions pushed past the end of the range are not part of this export.
    keep = start + duration < plan.clock.end
    order = np.lexsort((visitor[keep], start[keep]))
    idx = np.flatnonzero(keep)[order]
    start, duration = start[idx], duration[idx]
    final_day = plan.clock.day_of(start)
    # A session pushed past midnight may leave its campaign's window: pick a running one.
    campaign = campaign[idx]
    stale = (campaign >= 0) & (
        (final_day < camps.first[campaign]) | (final_day > camps.last[campaign])
    )
    campaign[stale] = assign_campaigns(rng, camps, final_day[stale], channel[idx][stale], plan.days)
    frac = rng.uniform(0.2, 0.8, size=len(idx))
    signup_ts = np.where(signup[idx], start + (frac * np.maximum(duration - 60, 0)), 0)
    return Sessions(
        visitor=visitor[idx],
        start=start,
        duration=duration,
        day=final_day,
        channel=channel[idx].astype(np.int8),
        source=source[idx].astype(np.int16),
        campaign=campaign.astype(np.int32),
        landing=landing[idx].astype(np.int8),
        counts=counts[idx],
        purchase=purchase[idx],
        items=items[idx].astype(np.int8),
        signup=signup[idx],
        signup_ts=signup_ts.astype(np.int64),
    )


def assignments(plan: Plan, vis: Visitors, sess: Sessions) -> dict[str, tuple[np.ndarray, ...]]:
    """Per experiment: (visitor, variant, assigned_ts) of visitors with a session in its window,
    assigned at the start of their first such session."""
    out = {}
    for name, window in sorted(plan.experiments.items()):  # two experiments
        exp_index = 0 if name == EXPERIMENT_EFFECT else 1
        mask = window.contains(sess.day)
        v = sess.visitor[mask]
        ts = sess.start[mask]
        first_v, first_pos = np.unique(v, return_index=True)
        out[name] = (first_v, vis.variant[exp_index, first_v], ts[first_pos])
    return out


def session_of_day_bounds(sess: Sessions, days: int) -> np.ndarray:
    """Index bounds of each day's sessions (sessions are ordered by start)."""
    return np.searchsorted(sess.day, np.arange(days + 1), side="left")
