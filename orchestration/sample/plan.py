"""The day plan: how many sessions, purchases and orders each business day gets, and where the
planted facts sit (anomaly days, the lift campaign window, the experiment windows).

Daily volumes are set, not sampled: a smooth product of weekday, growth trend and a four-week
promotion rhythm, turned into counts by error diffusion. Sampled daily counts would give the
ordinary days a binomial wobble that the catalog's same-weekday z-score (four comparison weeks)
reads as anomalies; the rhythm gives the comparison weeks a spread of their own, so that the
planted days stand out and ordinary days rarely do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.sample import vocab
from orchestration.sample.core import Clock, diffuse, stream

# Volumes at scale 1 (per day, yearly mean): about 10M sessions, 1M orders a year.
SESSIONS_PER_DAY = 27_400
CONVERSION_RATE = 0.045  # purchase sessions / sessions
UNTRACKED_SHARE = 0.03  # own-platform orders without a purchase event (blocked tracking)
MARKETPLACE_PER_DAY = 1_300  # Tmall / JD orders: no events on our site
NEW_VISITOR_SHARE = 0.40
LIFT_NEW_VISITOR_SHARE = 0.75  # the lift campaign mostly brings first-time visitors
TREND_PER_YEAR = 0.24  # gentle growth: +24% over a year
CYCLE_DAYS = 28  # promotion rhythm, a multiple of 7 so each weekday sees all its phases
SESSION_CYCLE = 0.05
ORDER_CYCLE = 0.15  # orders swing +-15% over the rhythm (via conversion and marketplace)
PAYMENT_CYCLE = 0.35  # payment failures swing +-35% over the rhythm...
FEEDBACK_CYCLE = 0.25  # ...negative reviews and complaints +-25%...
MIN_SWING = 1.2  # ...but by at least this many a day (within a cap) in small samples
NEGATIVE_REVIEW_SHARE = 0.11  # reviews rated 1-2
COMPLAINTS_PER_PAID_ORDER = 0.04

LIFT_SESSIONS = 0.35  # the lift campaign adds 35% sessions (and purchases) in its window
LIFT_MARKETPLACE = 0.10  # halo on marketplace orders
FIRST_ANOMALY_DAY = 35  # the anomaly detector needs four weeks of history

# Planted anomaly kinds: (KPIs that must be flagged, other KPIs that visibly move that day).
# Names are kpi-catalog names. A drop in orders is listed only where daily orders are numerous
# enough for it to clear the same-weekday z-score on every seed (see _flagged).
ANOMALY_KPIS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "flash_sale_spike": (
        ("gmv", "paid_orders", "session_conversion_rate"),
        ("sessions", "orders_placed"),
    ),
    "payment_outage": (("payment_success_rate", "paid_orders"), ("order_payment_rate",)),
    "traffic_drop": (("sessions", "gmv", "paid_orders"), ("unique_visitors", "orders_placed")),
}
MIN_ORDERS_FOR_DROPS = 15  # expected orders a day
# Kinds that push KPIs down are placed where the promotion rhythm is not at a high, so that the
# drop clears the z-score threshold on every seed.
DROPS = ("payment_outage", "traffic_drop")
# Traffic drop: a site outage (sessions and own-platform orders x0.2) that also froze the stock
# sync to the marketplaces (their listings showed out of stock: marketplace orders x0.3).
TRAFFIC_DROP = 0.2
TRAFFIC_DROP_MARKETPLACE = 0.3
# Flash sale: a push campaign to the app base; a little more traffic, far more buying.
SPIKE_SESSIONS = 1.1
SPIKE_CONVERSION = 2.75
SPIKE_MARKETPLACE = 3.0
# Payment paths of an order: (outcome, attempts). Outcomes: 0 first attempt succeeds, 1 fails
# then succeeds, 2 fails and the buyer gives up, 3 no attempt at all. Daily counts of each path
# are set (error-diffused), so the daily payment success rate follows the plan.
PAYMENT_PATHS = ((0, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3), (3, 0))
PAYMENT_OK = np.array([0.918, 0.050, 0.005, 0.012, 0.003, 0.0, 0.012])
# Payment outage: under a third of orders get paid; buyers hammer the button, attempts mostly
# fail (~15-20% succeed).
PAYMENT_OUTAGE = np.array([0.20, 0.0, 0.10, 0.0, 0.0, 0.45, 0.25])
PAYMENT_FAILING = slice(1, 6)  # the paths with a failed attempt


@dataclass(frozen=True)
class Window:
    """Inclusive range of day indices."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def contains(self, day: np.ndarray) -> np.ndarray:
        return (np.asarray(day) >= self.first) & (np.asarray(day) <= self.last)


@dataclass(frozen=True)
class Anomaly:
    day: int
    kind: str
    kpis: tuple[str, ...] = ()  # must be flagged
    also: tuple[str, ...] = ()  # move visibly too


def _flagged(anomaly: Anomaly, orders_per_day: float) -> Anomaly:
    """Split the kind's KPIs into must-flag and also-moves for this sample's volume."""
    must, also = ANOMALY_KPIS[anomaly.kind]
    if anomaly.kind in DROPS and orders_per_day < MIN_ORDERS_FOR_DROPS:
        weak = ("gmv", "paid_orders")
        also = tuple(k for k in must if k in weak) + also
        must = tuple(k for k in must if k not in weak)
    return Anomaly(anomaly.day, anomaly.kind, must, also)


@dataclass(frozen=True)
class Plan:
    seed: int
    scale: float
    clock: Clock
    sessions: np.ndarray  # sessions per day
    new_sessions: np.ndarray  # of which first visits of new visitors
    lift_sessions: np.ndarray  # of which extra sessions brought by the lift campaign
    conversions: np.ndarray  # sessions with a purchase
    untracked: np.ndarray  # own-platform orders without a session
    marketplace: np.ndarray  # marketplace orders
    payment_mix: np.ndarray  # (days, paths) share of orders per payment path
    negative_review_share: np.ndarray  # per review day
    complaint_rate: np.ndarray  # complaint tickets opened per paid order of the day
    anomalies: tuple[Anomaly, ...]
    lift: Window | None
    experiments: dict[str, Window]

    @property
    def days(self) -> int:
        return self.clock.days

    def anomaly_days(self, kind: str) -> list[int]:
        return [a.day for a in self.anomalies if a.kind == kind]


EXPERIMENT_EFFECT = "exp_checkout_button"
EXPERIMENT_NULL = "exp_banner_color"


def _lift_length(days: int) -> int:
    return min(14, days // 4)


def _anomaly_candidates(days: int, lift: Window | None, strict: bool) -> np.ndarray:
    """Days that may carry an anomaly: after five weeks, clear of the lift campaign's baseline and
    window and (strict) of the four weeks after it, whose lifted days would widen the spread."""
    day = np.arange(FIRST_ANOMALY_DAY, days)
    if lift is None:
        return day
    tail = 28 if strict else 0
    blocked = (day >= lift.first - lift.length) & (day <= lift.last + tail)
    return day[~blocked]


def _enough(candidates: np.ndarray) -> bool:
    return len(np.unique(candidates % 7)) >= len(ANOMALY_KPIS)


def _place_lift(rng: np.random.Generator, days: int) -> Window | None:
    length = _lift_length(days)
    if length < 3:
        return None
    starts = np.arange(length, days - length + 1)
    for strict in (True, False):
        ok = [
            s
            for s in starts
            if _enough(_anomaly_candidates(days, Window(s, s + length - 1), strict))
        ]
        if ok:
            s = int(rng.choice(ok))
            return Window(s, s + length - 1)
    s = int(rng.choice(starts))
    return Window(s, s + length - 1)


def _place_anomalies(
    rng: np.random.Generator, days: int, lift: Window | None, cycle: np.ndarray
) -> tuple[Anomaly, ...]:
    """Three days on distinct weekdays, so that no anomaly sits in another's comparison weeks."""
    for strict in (True, False):
        cand = _anomaly_candidates(days, lift, strict)
        if _enough(cand):
            break
    else:
        return ()
    chosen: list[Anomaly] = []
    for kind in rng.permutation(sorted(ANOMALY_KPIS)):  # three kinds
        free = np.array([d for d in cand if all((d - a.day) % 7 != 0 for a in chosen)])
        pool = free
        for bound in (-0.5, 0.0) if kind in DROPS else ():  # prefer low points of the rhythm
            if np.any(cycle[free] <= bound):
                pool = free[cycle[free] <= bound]
                break
        chosen.append(Anomaly(int(rng.choice(pool)), str(kind)))
    return tuple(sorted(chosen, key=lambda a: a.day))


def _swing(relative: float, per_day: float, cap: float = 0.9) -> float:
    """Amplitude of a daily series' rhythm: relative, but at least MIN_SWING units a day (<= cap).

    A 4-week rhythm gives each weekday's four comparison weeks a known spread; when a series
    counts only a few events a day, that spread must exceed one event, or the spread of the
    comparison weeks is set by rounding and the z-score of ordinary days runs wild.
    """
    if per_day < 0.5:  # mostly days without any: a swing would only add noise
        return relative
    return min(max(relative, MIN_SWING / per_day), cap)


def _payment_mix(
    pay_cycle: np.ndarray, orders_f: np.ndarray, mean_orders: float, anomalies: tuple[Anomaly, ...]
) -> np.ndarray:
    """Share of each payment path per day: failures follow their rhythm, outages collapse."""
    failures = mean_orders * PAYMENT_OK[PAYMENT_FAILING].sum()
    # Capped lower: in a tiny sample a wide swing of failures would hide the payment outage.
    k = 1 + _swing(PAYMENT_CYCLE, failures, cap=0.6) * pay_cycle
    mix = np.tile(PAYMENT_OK, (len(pay_cycle), 1))
    mix[:, PAYMENT_FAILING] *= k[:, None]
    mix[:, 0] = 1 - mix[:, 1:].sum(axis=1)
    for d in [a.day for a in anomalies if a.kind == "payment_outage"]:  # at most one
        mix[d] = PAYMENT_OUTAGE
        # In a tiny sample a weekday can go four weeks without a failed payment: zero spread, no
        # z-score. One retried payment on one comparison day keeps the outage visible.
        c = d - 14
        if c >= 0 and orders_f[c] * mix[c, PAYMENT_FAILING].sum() < 1:
            mix[c, 1] = 1.2 / max(orders_f[c], 1.0)
            mix[c, 0] = 1 - mix[c, 1:].sum()
    return mix


def make_plan(seed: int, scale: float, clock: Clock) -> Plan:
    rng = stream(seed, "plan")
    days = clock.days
    lift = _place_lift(rng, days)
    day = np.arange(days)
    dow = clock.weekday()
    # The rhythm peaks on the lift campaign's first day: its window and its baseline then cover
    # mirror halves of the cycle, so the measured lift is the planted one.
    peak = lift.first if lift is not None else int(rng.integers(CYCLE_DAYS))
    cycle = np.sin(2 * np.pi * (day - peak + CYCLE_DAYS / 4) / CYCLE_DAYS)
    anomalies = _place_anomalies(rng, days, lift, cycle)
    pay_cycle, review_cycle, complaint_cycle = (
        np.cos(2 * np.pi * (day - int(rng.integers(CYCLE_DAYS))) / CYCLE_DAYS) for _ in range(3)
    )
    trend = 0.88 + TREND_PER_YEAR * day / 365.0

    in_lift = lift.contains(day) if lift is not None else np.zeros(days, dtype=bool)
    traffic = np.ones(days)
    conv_mult = np.ones(days)
    market_mult = np.ones(days)
    for a in anomalies:  # three days at most
        if a.kind == "traffic_drop":
            traffic[a.day] = TRAFFIC_DROP
            market_mult[a.day] = TRAFFIC_DROP_MARKETPLACE
        elif a.kind == "flash_sale_spike":
            traffic[a.day] = SPIKE_SESSIONS
            conv_mult[a.day] = SPIKE_CONVERSION
            market_mult[a.day] = SPIKE_MARKETPLACE

    wk = vocab.WEEKDAY_SESSIONS / vocab.WEEKDAY_SESSIONS.mean()
    base = SESSIONS_PER_DAY * scale * wk[dow] * trend * (1 + SESSION_CYCLE * cycle) * traffic
    sessions_f = base * np.where(in_lift, 1 + LIFT_SESSIONS, 1.0)
    sessions = diffuse(sessions_f)
    lift_sessions = np.minimum(diffuse(sessions_f - base), sessions)
    regular = sessions - lift_sessions
    new_sessions = np.minimum(
        diffuse(regular * NEW_VISITOR_SHARE + lift_sessions * LIFT_NEW_VISITOR_SHARE), sessions
    )

    # The rhythm's swing in orders: relative, but at least MIN_SWING orders, so that the
    # comparison weeks of a tiny sample never show one and the same count (zero spread).
    mean_orders = (SESSIONS_PER_DAY * CONVERSION_RATE + MARKETPLACE_PER_DAY) * scale
    order_cycle = _swing(ORDER_CYCLE, mean_orders)
    wkc = vocab.WEEKDAY_CONVERSION / vocab.WEEKDAY_CONVERSION.mean()
    conv_cycle = order_cycle - SESSION_CYCLE
    conv = CONVERSION_RATE * wkc[dow] * (1 + conv_cycle * cycle) * conv_mult
    purchases_f = sessions_f * conv
    conversions = np.minimum(diffuse(purchases_f), sessions)
    untracked = diffuse(purchases_f * UNTRACKED_SHARE)

    wkm = vocab.WEEKDAY_MARKETPLACE / vocab.WEEKDAY_MARKETPLACE.mean()
    market = MARKETPLACE_PER_DAY * scale * wkm[dow] * trend * (1 + order_cycle * cycle)
    market = market * np.where(in_lift, 1 + LIFT_MARKETPLACE, 1.0) * market_mult
    marketplace = diffuse(market)

    orders_f = purchases_f * (1 + UNTRACKED_SHARE) + market
    mix = _payment_mix(pay_cycle, orders_f, mean_orders, anomalies)
    anomalies = tuple(_flagged(a, float(mean_orders)) for a in anomalies)

    reviews = mean_orders * 0.9 * 0.3  # delivered orders x review share, roughly
    experiments = {
        EXPERIMENT_EFFECT: Window(round(0.10 * days), days - 1),
        EXPERIMENT_NULL: Window(round(0.20 * days), max(round(0.90 * days) - 1, 0)),
    }
    return Plan(
        seed=seed,
        scale=scale,
        clock=clock,
        sessions=sessions,
        new_sessions=new_sessions,
        lift_sessions=lift_sessions,
        conversions=conversions,
        untracked=untracked,
        marketplace=marketplace,
        payment_mix=mix,
        negative_review_share=NEGATIVE_REVIEW_SHARE
        * (1 + _swing(FEEDBACK_CYCLE, reviews * NEGATIVE_REVIEW_SHARE) * review_cycle),
        complaint_rate=COMPLAINTS_PER_PAID_ORDER
        * (1 + _swing(FEEDBACK_CYCLE, mean_orders * COMPLAINTS_PER_PAID_ORDER) * complaint_cycle),
        anomalies=anomalies,
        lift=lift,
        experiments=experiments,
    )
