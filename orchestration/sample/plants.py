"""Facts planted for the second-round marts: a product whose sales collapse, launches with a
known weekly curve, a complaint spike and customers who churn after a bad experience.

Planted products sell on a set schedule of units a day: their natural order lines go to the
neighbouring product by price, and each day's units are written into paid lines of about the
right value (unit price = the line's value / its new quantity), so the day's orders and GMV stay
as planned. Search terms and the purchase-hour profile are planted where they are written
(events, vocab.ORDER_HOUR_WEIGHTS); churners lose their purchases in traffic and commerce.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from orchestration.sample import vocab
from orchestration.sample.commerce import Fulfilment, Orders, Payments, Products
from orchestration.sample.core import DAY_S, group_rank, stream
from orchestration.sample.plan import Plan
from orchestration.sample.traffic import FADE_DAYS, Visitors

COLLAPSE_UNITS = 12  # units a day before the collapse...
COLLAPSE_WOBBLE = np.array([0, 2, -1, 1])  # ...plus this by week: a 4-week cycle, |z| <= 1.5
COLLAPSE_TRICKLE = 1  # units a day from the collapse on (the product went out of stock)
COLLAPSE_PRICE = 3990  # a multipack-priced product, so 2-5 units fill an ordinary line
FIRST_COLLAPSE_DAY = 35  # after five weeks: four comparison weeks of history
COLLAPSE_MIN_DAYS = 7
LAUNCH_WEEKS_BEFORE_END = (8, 6)  # two launches, each with a curve of 1 + week units a day
LAUNCH_PRICES = (6990, 12990)
MAX_QUANTITY = 5
LAUNCHED_BEFORE_DAYS = (30, 1500)  # launch dates of the other products, days before the start
SPIKE_DAY_SHARE = 0.6  # the complaint spike is in the month of this share of the range
SPIKE_PER_PAID_ORDER = 0.04  # extra product_quality complaints per paid order of that month
SPIKE_MIN = 12
CHURN_SHARE = 0.15  # of customers with an above-median buying propensity
CHURN_RANGE = (0.2, 0.7)  # they stop buying on a day in this share of the range
CHURN_SIGNALS = (0.8, 0.7)  # chance of a complaint ticket, of a 1-star review on the last order
CHURN_SIGNAL = (
    f"buys less often for {FADE_DAYS} days, gets a delivery complaint ticket and/or a 1-star "
    "review on the last paid order, then never pays for an order again"
)


@dataclass(frozen=True)
class ProductPlan:
    units: dict[int, np.ndarray]  # product index -> units to sell per day
    collapse: int  # product index, -1 if none
    collapse_day: int
    launches: dict[int, int]  # product index -> launch day


def product_plan(plan: Plan, prods: Products) -> ProductPlan:
    """Pick the planted products (without price changes) and their daily units."""
    rng = stream(plan.seed, "planted-products")
    days = plan.days
    free = list(np.flatnonzero(prods.change_ts < 0))

    def near(cents: int) -> int:
        p = free[int(np.argmin(np.abs(prods.price[free] - cents)))]
        free.remove(p)
        return int(p)

    units: dict[int, np.ndarray] = {}
    week = np.arange(days) // 7
    busy = {a.day % 7 for a in plan.anomalies}  # a weekday of its own: a clean baseline
    candidates = [
        d for d in range(FIRST_COLLAPSE_DAY, days - COLLAPSE_MIN_DAYS + 1) if d % 7 not in busy
    ]
    collapse, collapse_day = -1, -1
    if candidates:
        collapse, collapse_day = near(COLLAPSE_PRICE), int(rng.choice(candidates))
        daily = COLLAPSE_UNITS + COLLAPSE_WOBBLE[week % len(COLLAPSE_WOBBLE)]
        units[collapse] = np.where(np.arange(days) < collapse_day, daily, COLLAPSE_TRICKLE)
    launches = {}
    for weeks, cents in zip(LAUNCH_WEEKS_BEFORE_END, LAUNCH_PRICES, strict=True):  # two
        first = days - 7 * weeks
        if first >= 1:
            p = near(cents)
            launches[p] = first
            since = np.arange(days) - first
            units[p] = np.where(since >= 0, 1 + since // 7, 0)
    return ProductPlan(units, collapse, collapse_day, launches)


def launch_dates(plan: Plan, prods: Products, pp: ProductPlan) -> np.ndarray:
    """Per product: its launch day index (negative: before the range)."""
    rng = stream(plan.seed, "launch-dates")
    day = -rng.integers(*LAUNCHED_BEFORE_DAYS, size=len(prods))
    for p, first in pp.launches.items():  # two
        day[p] = first
    return day


def without_launches(prods: Products, pp: ProductPlan) -> Products:
    """The catalog as browsing sees it: launched products are viewed only where they are bought."""
    weight = np.diff(prods.cdf, prepend=0.0)
    weight[list(pp.launches)] = 0.0
    return replace(prods, cdf=np.cumsum(weight))


def sell_on_schedule(
    plan: Plan, orders: Orders, pay: Payments, prods: Products, pp: ProductPlan
) -> Orders:
    """Move the planted products' natural lines to a neighbour by price, then write each day's
    planted units into paid lines of that day whose value fits the product's price."""
    rng = stream(plan.seed, "planted-lines")
    product, quantity, unit = orders.product.copy(), orders.quantity.copy(), orders.unit_cents
    unit = unit.copy()
    planted = np.array(sorted(pp.units), dtype=np.int64)
    others = prods.by_price[~np.isin(prods.by_price, planted)]
    moved = np.isin(product, planted)
    pos = np.searchsorted(prods.price[others], prods.price[product[moved]])
    product[moved] = others[np.minimum(pos, len(others) - 1)]

    line_day = orders.day[orders.line_order]
    free = pay.paid_ts[orders.line_order] >= 0
    for p in planted:  # three products at most
        want = pp.units[p]
        need = -(-want // MAX_QUANTITY)  # lines a day
        cand = np.flatnonzero(free & (need[np.clip(line_day, 0, plan.days - 1)] > 0))
        d = line_day[cand]
        per_line = want[d] / need[d]
        fit = np.abs(np.log(unit[cand] * quantity[cand] / (per_line * prods.price[p])))
        rank = group_rank(d, fit + 1e-6 * rng.random(len(cand)))
        take = rank < need[d]
        lines, rank, d = cand[take], rank[take], d[take]
        got = np.bincount(d, minlength=plan.days)  # fewer than needed on a day short of lines
        n = np.maximum(got[d], 1)
        q = want[d] // n + (rank < want[d] % n)
        q = np.minimum(q, MAX_QUANTITY)
        value = unit[lines] * quantity[lines]
        product[lines], quantity[lines] = p, q
        unit[lines] = np.rint(value / q).astype(np.int64)
        free[lines] = False
    return replace(orders, product=product, quantity=quantity, unit_cents=unit).with_totals()


def daily_units(plan: Plan, orders: Orders, pay: Payments, product: int) -> np.ndarray:
    """Paid units of a product per order day, as written."""
    line_day = orders.day[orders.line_order]
    m = (orders.product == product) & (pay.paid_ts[orders.line_order] >= 0)
    return np.bincount(line_day[m], weights=orders.quantity[m], minlength=plan.days)


def weekly_units(daily: np.ndarray, first: int) -> list[int]:
    """Units per 7-day week since the launch day (the last week may be short)."""
    since = daily[first:]
    return [int(since[k : k + 7].sum()) for k in range(0, len(since), 7)]


def spike_month(plan: Plan) -> tuple[int, int] | None:
    """(first, last) day index of the complaint spike's month within the range, if the range
    spans more than one month."""
    clock = plan.clock
    months = {clock.iso(d)[:7] for d in (0, plan.days - 1)}
    if len(months) < 2:
        return None
    month = clock.iso(round(SPIKE_DAY_SHARE * (plan.days - 1)))[:7]
    day = np.arange(plan.days)
    inside = day[[clock.iso(int(d))[:7] == month for d in day]]
    return int(inside[0]), int(inside[-1])


def spike_tickets(
    plan: Plan, orders: Orders, pay: Payments, ful: Fulfilment
) -> tuple[np.ndarray, np.ndarray]:
    """(order, opened_ts) of the extra product_quality complaints: a bad batch, reported by
    buyers a day or three after delivery within the spike month."""
    window = spike_month(plan)
    if window is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rng = stream(plan.seed, "complaint-spike")
    clock = plan.clock
    lo, hi = clock.midnight(window[0]), min(clock.midnight(window[1] + 1), clock.end)
    opened = ful.delivered_ts + rng.integers(DAY_S, 3 * DAY_S, size=len(orders))
    cand = np.flatnonzero((ful.delivered_ts >= 0) & (opened >= lo) & (opened < hi))
    paid = int((pay.paid_ts[(orders.day >= window[0]) & (orders.day <= window[1])] >= 0).sum())
    k = min(len(cand), max(SPIKE_MIN, round(SPIKE_PER_PAID_ORDER * paid)))
    chosen = np.sort(rng.choice(cand, size=k, replace=False))
    return chosen, opened[chosen]


def churn_days(plan: Plan, vis: Visitors) -> np.ndarray:
    """Per visitor: the day a churn-prone customer stops buying (plan.days for the others)."""
    rng = stream(plan.seed, "churners")
    stop = np.full(len(vis), plan.days, dtype=np.int64)
    buyers = vis.kind > 0
    keen = buyers & (vis.propensity > np.median(vis.propensity[buyers]))
    prone = np.flatnonzero(keen & (rng.random(len(vis)) < CHURN_SHARE))
    lo, hi = (round(s * plan.days) for s in CHURN_RANGE)
    stop[prone] = rng.integers(lo, max(hi, lo + 1), size=len(prone))
    return stop


@dataclass(frozen=True)
class ChurnSignals:
    customers: np.ndarray  # churners with a paid order before they stop and a signal after it
    ticket_order: np.ndarray
    ticket_ts: np.ndarray
    review_order: np.ndarray
    review_ts: np.ndarray


def churn_signals(
    plan: Plan, orders: Orders, pay: Payments, ful: Fulfilment, stop_of_customer: np.ndarray
) -> ChurnSignals:
    """A delivery complaint and a 1-star review on the last paid order of each churner."""
    rng = stream(plan.seed, "churn-signals")
    end = plan.clock.end
    paid = np.flatnonzero(pay.paid_ts >= 0)
    paid = paid[orders.day[paid] < stop_of_customer[orders.customer[paid]]]
    paid = paid[stop_of_customer[orders.customer[paid]] < plan.days]
    last = np.full(len(stop_of_customer), -1, dtype=np.int64)
    np.maximum.at(last, orders.customer[paid], paid)  # orders are in time order
    customers = np.flatnonzero(last >= 0)
    o = last[customers]
    u = rng.random((2, len(o)))
    delivered = ful.delivered_ts[o]
    base = np.where(delivered >= 0, delivered, ful.paid_ts[o] + 3 * DAY_S)
    t_ts = base + rng.integers(6 * 3600, 2 * DAY_S, size=len(o))
    r_ts = delivered + rng.integers(12 * 3600, 3 * DAY_S, size=len(o))
    has_t = (u[0] < CHURN_SIGNALS[0]) & (t_ts < end)
    has_r = (u[1] < CHURN_SIGNALS[1]) & (delivered >= 0) & (r_ts < end)
    signalled = customers[has_t | has_r]
    return ChurnSignals(signalled, o[has_t], t_ts[has_t], o[has_r], r_ts[has_r])


def manifest(
    plan: Plan,
    orders: Orders,
    pay: Payments,
    pp: ProductPlan,
    product_ids: list[str],
    churners: list[str],
) -> dict:
    """The second-round entries of the manifest's "planted"."""
    clock = plan.clock
    local = (orders.ts + 8 * 3600) % DAY_S // 3600  # Asia/Shanghai, no DST
    per_hour = np.bincount(local[pay.paid_ts >= 0], minlength=24)
    collapse = None
    if pp.collapse >= 0:
        d = pp.collapse_day
        daily = daily_units(plan, orders, pay, pp.collapse)
        collapse = {
            "product_id": product_ids[pp.collapse],
            "date": clock.iso(d),
            "baseline_units": float(np.mean(daily[[d - 7 * k for k in range(1, 5)]])),
        }
    spike = spike_month(plan)
    return {
        "product_collapse": collapse,
        "search_terms": {
            "top_term": vocab.SEARCH_TERMS[vocab.SEARCH_TOP],
            "zero_conversion_term": vocab.SEARCH_TERMS[vocab.SEARCH_ZERO_CONVERSION],
        },
        "launches": [
            {
                "product_id": product_ids[p],
                "launch_date": clock.iso(first),
                "weekly_units": weekly_units(daily_units(plan, orders, pay, p), first),
            }
            for p, first in sorted(pp.launches.items(), key=lambda kv: kv[1])
        ],
        "purchase_hours": {
            "peak_hour": int(np.argmax(per_hour)),
            "trough_hour": int(np.argmin(per_hour)),
        },
        "complaint_spike": None
        if spike is None
        else {"category": "product_quality", "month": clock.iso(spike[0])[:7] + "-01"},
        "churn": {"prone_customers": sorted(churners), "signal": CHURN_SIGNAL},
    }
