"""The shop: products, customers, orders with their lines, payments, status lifecycle, refunds.

Orders come from three places: purchase sessions (tracked: a purchase event exists), own-platform
orders without tracking, and marketplace orders (Tmall / JD, no events on our site). Daily mixes
(basket size, products by price band, quantities, promotions, coupons, payment outcomes, promised
days) are stratified per day so the daily KPIs follow the plan instead of sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from orchestration import contract
from orchestration.sample import vocab
from orchestration.sample.core import (
    DAY_S,
    assign_counts,
    bool_col,
    cents,
    choice,
    choice_from_u,
    date_col,
    diffuse,
    format_ids,
    id_width,
    int_col,
    local_times,
    money_col,
    runs,
    strat_uniform,
    stream,
    strings,
    take,
    ts_col,
)
from orchestration.sample.plan import PAYMENT_PATHS, Plan
from orchestration.sample.traffic import Sessions, Visitors

MARKETPLACE_CUSTOMERS = 50_000  # marketplace-only members at scale 1
MARKETPLACE_FROM_WEB = 0.40  # share of marketplace orders placed by our own registered customers
PRICE_CHANGE_SHARE = 0.03
CITY_CHANGE_SHARE = 0.03
REFERRAL_SHARE = 0.10
CANCEL_AFTER_PAYMENT = 0.012
LOST_PARCEL = 0.003
RETURN_RATE = 0.025
PARTIAL_REFUND_RATE = 0.015
LATE_FACTOR = 2.0  # late deliveries are returned / refunded this much more often

ST_CREATED, ST_PAID, ST_SHIPPED, ST_DELIVERED, ST_CANCELLED, ST_RETURNED = range(6)
PAY_FIRST_OK, PAY_RETRY_OK, PAY_GAVE_UP, PAY_NONE = range(4)
OWN_PLATFORMS = 3  # platform codes below this are our app / web / mini program


@dataclass(frozen=True)
class Products:
    category: np.ndarray
    subcategory: np.ndarray  # index into SUBCATEGORIES
    brand: pa.Array
    name: pa.Array
    price: np.ndarray  # list price in cents at the start
    new_price: np.ndarray  # list price after the change (same if none)
    change_ts: np.ndarray  # when the list price changes, -1 if never
    updated_ts: np.ndarray  # of the initial catalog row
    by_price: np.ndarray  # product indices ordered by price
    cdf_by_price: np.ndarray  # cumulative popularity in that order
    cdf: np.ndarray  # cumulative popularity by product index

    def __len__(self) -> int:
        return len(self.price)

    @property
    def ids(self) -> pa.StringArray:
        return format_ids("sku", np.arange(1, len(self) + 1), id_width(len(self), 5))


SUBCATEGORIES = tuple((ci, sub) for ci, c in enumerate(vocab.CATEGORIES) for sub in c[3])


def _shelf_price(price: np.ndarray) -> np.ndarray:
    """Prices as shops set them: 199.00 above 100 CNY, 29.90 below; in cents."""
    high = (np.rint(price / 10) * 10 - 1) * 100
    low = np.rint(price) * 100 - 10
    return np.where(price >= 100, high, np.maximum(low, 190)).astype(np.int64)


def make_products(plan: Plan) -> Products:
    rng = stream(plan.seed, "products")
    n = max(60, round(500 * np.sqrt(plan.scale / 0.01)))
    shares = np.array([c[1] for c in vocab.CATEGORIES])
    category = choice_from_u(strat_uniform(rng, np.zeros(n, dtype=np.int64)), shares)
    subcategory = np.zeros(n, dtype=np.int64)
    brand = np.empty(n, dtype=object)
    lo = np.zeros(n)
    hi = np.zeros(n)
    for ci, (_, _, (pmin, pmax), subs, brands) in enumerate(vocab.CATEGORIES):  # 8 categories
        m = category == ci
        k = int(m.sum())
        first_sub = next(i for i, s in enumerate(SUBCATEGORIES) if s[0] == ci)
        subcategory[m] = first_sub + rng.integers(0, len(subs), size=k)
        brand[m] = np.array(brands, dtype=object)[rng.integers(0, len(brands), size=k)]
        lo[m], hi[m] = pmin, pmax
    noun = np.empty(n, dtype=object)
    for si, (_, sub) in enumerate(SUBCATEGORIES):  # 28 subcategories
        m = subcategory == si
        nouns = np.array(vocab.SUBCATEGORY_NOUNS[sub], dtype=object)
        noun[m] = nouns[rng.integers(0, len(nouns), size=int(m.sum()))]
    series = np.array(list("ABCDEFGHKMSX"), dtype=object)[rng.integers(0, 12, size=n)]
    model = rng.integers(100, 1000, size=n).astype(str).astype(object)
    name = brand + " " + noun + " " + series + model

    raw = np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * rng.beta(1.2, 2.8, size=n))
    price = _shelf_price(raw)
    popularity = 1.0 / (rng.permutation(n) + 3.0) ** 0.9
    new_price = price.copy()
    change_ts = np.full(n, -1, dtype=np.int64)
    if plan.days >= 2:
        m = max(1, round(PRICE_CHANGE_SHARE * n))
        which = rng.choice(n, size=m, replace=False)
        factor = np.where(
            rng.random(m) < 0.6, rng.uniform(0.80, 0.92, m), rng.uniform(1.05, 1.15, m)
        )
        new_price[which] = _shelf_price(price[which] / 100 * factor)
        change_day = rng.integers(1, plan.days, size=m)
        change_ts[which] = local_times(rng, plan.clock, change_day, vocab.HOUR_WEIGHTS)
    updated_ts = plan.clock.day0 - rng.integers(DAY_S, 400 * DAY_S, size=n)
    by_price = np.argsort(price, kind="stable")
    return Products(
        category=category,
        subcategory=subcategory,
        brand=pa.array(brand.tolist(), type=pa.string()),
        name=pa.array(name.tolist(), type=pa.string()),
        price=price,
        new_price=new_price,
        change_ts=change_ts,
        updated_ts=updated_ts,
        by_price=by_price,
        cdf_by_price=np.cumsum(popularity[by_price]),
        cdf=np.cumsum(popularity),
    )


def products_table(plan: Plan, prods: Products, launch_day: np.ndarray) -> dict:
    """Initial catalog on the first day (a product launched later: on its launch day, 09:00),
    plus one re-delivered row per price change."""
    n = len(prods)
    ids = prods.ids
    changed = np.flatnonzero(prods.change_ts >= 0)
    row = np.concatenate([np.arange(n), changed])
    price = np.concatenate([prods.price, prods.new_price[changed]])
    launched = launch_day > 0
    first_ts = np.where(launched, plan.clock.midnight(launch_day) + 9 * 3600, prods.updated_ts)
    updated = np.concatenate([first_ts, prods.change_ts[changed]])
    dt = np.concatenate([np.maximum(launch_day, 0), plan.clock.day_of(prods.change_ts[changed])])
    cat = strings([c[0] for c in vocab.CATEGORIES])
    sub = strings([s for _, s in SUBCATEGORIES])
    idx = pa.array(row)
    return {
        "_dt": dt,
        "product_id": ids.take(idx),
        "product_name": prods.name.take(idx),
        "category": cat.take(pa.array(prods.category[row])),
        "subcategory": sub.take(pa.array(prods.subcategory[row])),
        "brand": prods.brand.take(idx),
        "list_price": money_col(price),
        "updated_ts": ts_col(updated),
        "launch_date": date_col(plan.clock.epoch_day0 + launch_day[row]),
    }


# --- customers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Customers:
    """Registered customers: web/app customers first, then marketplace-only members."""

    visitor: np.ndarray  # their visitor id, -1 for marketplace-only members
    signup_ts: np.ndarray
    channel: np.ndarray  # signup channel
    propensity: np.ndarray
    n_web: int
    rank: np.ndarray  # 0-based position by signup time: the number in the customer id
    of_visitor: np.ndarray  # customer index per visitor, -1 for anonymous visitors

    def __len__(self) -> int:
        return len(self.signup_ts)

    @property
    def ids(self) -> pa.StringArray:
        return format_ids("c", self.rank + 1, id_width(len(self), 6))


def _past_signups(rng: np.random.Generator, plan: Plan, n: int) -> np.ndarray:
    """Sign-up times in the two years before the range, more of them recent (growth)."""
    age = 1 + 730 * rng.random(n) ** 1.5
    return plan.clock.day0 - (age * DAY_S).astype(np.int64)


def make_customers(plan: Plan, vis: Visitors, sess: Sessions) -> Customers:
    rng = stream(plan.seed, "customers")
    pre = np.flatnonzero(vis.kind == 1)
    fut_sess = np.flatnonzero(sess.signup)
    future = sess.visitor[fut_sess]
    visitor = np.concatenate([pre, future])
    signup = np.concatenate([_past_signups(rng, plan, len(pre)), sess.signup_ts[fut_sess]])
    channel = np.concatenate(
        [choice(rng, len(pre), vocab.CHANNEL_MIX_NEW), sess.channel[fut_sess].astype(np.int64)]
    )
    propensity = vis.propensity[visitor]
    n_web = len(visitor)

    n_mp = max(5, round(MARKETPLACE_CUSTOMERS * plan.scale))
    n_old = round(0.4 * n_mp)
    days = choice(rng, n_mp - n_old, plan.marketplace + 1e-9)
    mp_signup = np.concatenate(
        [
            _past_signups(rng, plan, n_old),
            local_times(rng, plan.clock, days, vocab.HOUR_WEIGHTS),
        ]
    )
    all_signup = np.concatenate([signup, mp_signup])
    order = np.lexsort((np.arange(len(all_signup)), all_signup))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    of_visitor = np.full(len(vis), -1, dtype=np.int64)
    of_visitor[visitor] = np.arange(n_web)
    return Customers(
        visitor=np.concatenate([visitor, np.full(n_mp, -1)]),
        signup_ts=all_signup,
        channel=np.concatenate([channel, np.full(n_mp, vocab.CH["other"])]),
        propensity=np.concatenate([propensity, rng.lognormal(0.0, 1.2, size=n_mp)]),
        n_web=n_web,
        rank=rank,
        of_visitor=of_visitor,
    )


def customers_table(plan: Plan, cust: Customers) -> dict:
    """Customers on their sign-up day (those from before the range in the first partition), and a
    re-delivered row with the new city and a newer updated_ts for those who moved."""
    rng = stream(plan.seed, "customer-profile")
    n = len(cust)
    clock = plan.clock
    region_w = np.array([r[1] for r in vocab.REGIONS])
    region = choice(rng, n, region_w)
    n_cities = np.array([len(r[2]) for r in vocab.REGIONS])
    city = rng.integers(0, 1 << 30, size=n) % n_cities[region]
    birth_valid = rng.random(n) >= 0.15
    age = np.clip(rng.normal(31, 8, size=n), 16, 70).astype(np.int64)
    birth_year = plan.clock.start.year - age
    gender = np.where(rng.random(n) < 0.10, -1, choice(rng, n, np.array([0.6, 0.4])))
    ref_rank = np.floor(rng.random(n) * cust.rank).astype(np.int64)
    has_ref = (rng.random(n) < REFERRAL_SHARE) & (cust.rank > 0)

    # Movers: a later row with another city.
    earliest = np.maximum(cust.signup_ts, clock.day0) + 7 * DAY_S
    movers = np.flatnonzero((rng.random(n) < CITY_CHANGE_SHARE) & (earliest < clock.end - DAY_S))
    move_ts = earliest[movers] + (rng.random(len(movers)) * (clock.end - earliest[movers])).astype(
        np.int64
    )
    move_ts = np.minimum(move_ts, clock.end - 1)
    # Another city anywhere: shift the global city number by 1..(cities-1).
    city_offset = np.cumsum(n_cities) - n_cities
    city_region = np.repeat(np.arange(len(n_cities)), n_cities)
    n_all = int(n_cities.sum())
    old_global = city_offset[region[movers]] + city[movers]
    new_global = (old_global + rng.integers(1, n_all, size=len(movers))) % n_all
    new_region = city_region[new_global]
    new_city = new_global - city_offset[new_region]

    row = np.concatenate([np.arange(n), movers])
    reg = np.concatenate([region, new_region])
    cty = np.concatenate([city, new_city])
    updated = np.concatenate([cust.signup_ts, move_ts])
    dt = np.maximum(clock.day_of(updated), 0)
    region_names = strings([r[0] for r in vocab.REGIONS])
    city_names = strings([c for r in vocab.REGIONS for c in r[2]])
    ids = cust.ids
    idx = pa.array(row)
    ref = np.where(has_ref, ref_rank, -1)[row]
    # referrer ids: the customer id with that rank is "c" + (rank + 1)
    ref_ids = format_ids("c", np.maximum(ref, 0) + 1, id_width(n, 6))
    return {
        "_dt": dt,
        "customer_id": ids.take(idx),
        "signup_ts": ts_col(cust.signup_ts[row]),
        "signup_channel": strings(vocab.CHANNELS).take(pa.array(cust.channel[row])),
        "referrer_customer_id": take(ref_ids, np.where(ref >= 0, np.arange(len(row)), -1)),
        "birth_year": int_col(birth_year[row], valid=birth_valid[row]),
        "gender": take(strings(vocab.GENDERS), gender[row]),
        "region": region_names.take(pa.array(reg)),
        "city": city_names.take(pa.array(city_offset[reg] + cty)),
        "updated_ts": ts_col(updated),
    }


# --- orders --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Orders:
    """Orders ordered by order_ts (index = number in the order id), with lines and outcomes."""

    ts: np.ndarray
    day: np.ndarray
    customer: np.ndarray
    platform: np.ndarray
    session: np.ndarray  # purchase session, -1 if untracked
    n_items: np.ndarray
    line_order: np.ndarray
    line_no: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray
    merch: np.ndarray
    coupon: np.ndarray  # index into vocab.COUPONS, -1 none
    discount: np.ndarray
    shipping: np.ndarray
    value: np.ndarray  # merchandise - discount + shipping, cents

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def first_line(self) -> np.ndarray:
        return np.cumsum(self.n_items) - self.n_items

    @property
    def ids(self) -> pa.StringArray:
        return format_ids("o", np.arange(1, len(self) + 1), id_width(len(self), 7))

    def with_totals(self) -> Orders:
        """Merchandise, coupon discount, shipping fee and value from the lines."""
        merch = np.bincount(
            self.line_order, weights=self.unit_cents * self.quantity, minlength=len(self)
        ).astype(np.int64)
        pct = np.array([c[1] for c in vocab.COUPONS])
        cap = np.array([c[2] for c in vocab.COUPONS]) * 100
        code = np.maximum(self.coupon, 0)
        discount = np.where(self.coupon >= 0, np.minimum(np.rint(merch * pct[code]), cap[code]), 0)
        discount = discount.astype(np.int64)
        after = merch - discount
        own = self.platform < OWN_PLATFORMS
        shipping = np.where(
            own,
            np.where(after < 9900, np.where(self.platform == 2, 800, 1000), 0),
            np.where(after < 5900, 600, 0),
        ).astype(np.int64)
        return replace(
            self, merch=merch, discount=discount, shipping=shipping, value=after + shipping
        )


def _prefix_pick(
    rng: np.random.Generator, avail_sorted: np.ndarray, cumw: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Weighted draw among the candidates available strictly before t (sorted by availability):
    -1 where nobody is available yet."""
    k = np.searchsorted(avail_sorted, t, side="left")
    total = np.where(k > 0, cumw[np.maximum(k - 1, 0)], 0.0)
    pos = np.searchsorted(cumw, rng.random(len(t)) * total, side="right")
    return np.where(k > 0, np.minimum(pos, k - 1), -1)


def _order_sources(
    rng: np.random.Generator,
    plan: Plan,
    sess: Sessions,
    vis: Visitors,
    cust: Customers,
    stop: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """(ts, customer, platform, session, n_items) of tracked, untracked and marketplace orders;
    no customer orders from their `stop` day on."""
    clock = plan.clock
    # Tracked: the order is created seconds before the purchase event that ends the session.
    s = np.flatnonzero(sess.purchase)
    lag = np.minimum(rng.integers(1, 41, size=len(s)), sess.duration[s] // 2)
    t_ts = sess.end[s] - lag
    t_cust = cust.of_visitor[sess.visitor[s]]
    dev = vis.device[sess.visitor[s]]
    mobile_web = np.where(rng.random(len(s)) < 0.55, 2, 1)  # mini program or mobile web
    t_platform = np.select([dev == vocab.APP_DEVICE, dev == 0], [0, mobile_web], 1)

    web = np.arange(cust.n_web)
    web_order = web[np.argsort(cust.signup_ts[web], kind="stable")]
    web_avail = cust.signup_ts[web_order]
    web_cumw = np.cumsum(cust.propensity[web_order])
    mp = np.arange(cust.n_web, len(cust))
    mp_order = mp[np.argsort(cust.signup_ts[mp], kind="stable")]
    mp_avail = cust.signup_ts[mp_order]
    mp_cumw = np.cumsum(cust.propensity[mp_order])

    def pick_web(t: np.ndarray) -> np.ndarray:
        i = _prefix_pick(rng, web_avail, web_cumw, t)
        return np.where(i >= 0, web_order[np.maximum(i, 0)], -1)

    def pick_mp(t: np.ndarray) -> np.ndarray:
        i = _prefix_pick(rng, mp_avail, mp_cumw, t)
        return np.where(i >= 0, mp_order[np.maximum(i, 0)], -1)

    def churned(c: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (c >= 0) & (clock.day_of(t) >= stop[np.maximum(c, 0)])

    def pick_live(pick: Callable[[np.ndarray], np.ndarray], c: np.ndarray, t: np.ndarray) -> None:
        """Draw again for orders that fell to a customer who has stopped buying."""
        for _ in range(20):  # each round leaves a few percent of the last
            bad = np.flatnonzero(churned(c, t))
            if not len(bad):
                return
            c[bad] = pick(t[bad])
        c[churned(c, t)] = -1

    u_day = np.repeat(np.arange(plan.days), plan.untracked)
    u_ts = local_times(rng, clock, u_day, vocab.ORDER_HOUR_WEIGHTS)
    u_cust = pick_web(u_ts)
    pick_live(pick_web, u_cust, u_ts)
    u_platform = choice(rng, len(u_ts), np.array([0.5, 0.3, 0.2]))

    m_day = np.repeat(np.arange(plan.days), plan.marketplace)
    m_ts = local_times(rng, clock, m_day, vocab.ORDER_HOUR_WEIGHTS)
    from_web = rng.random(len(m_ts)) < MARKETPLACE_FROM_WEB
    w_pick, p_pick = pick_web(m_ts), pick_mp(m_ts)
    m_cust = np.where(
        from_web, np.where(w_pick >= 0, w_pick, p_pick), np.where(p_pick >= 0, p_pick, w_pick)
    )
    pick_live(pick_mp, m_cust, m_ts)
    m_platform = np.where(rng.random(len(m_ts)) < 0.6, 3, 4)

    ts = np.concatenate([t_ts, u_ts, m_ts])
    customer = np.concatenate([t_cust, u_cust, m_cust])
    platform = np.concatenate([t_platform, u_platform, m_platform])
    session = np.concatenate([s, np.full(len(u_ts) + len(m_ts), -1)])
    n_items = np.concatenate(
        [sess.items[s].astype(np.int64), np.zeros(len(u_ts) + len(m_ts), dtype=np.int64)]
    )
    keep = customer >= 0
    order = np.lexsort((np.arange(len(ts))[keep], ts[keep]))
    idx = np.flatnonzero(keep)[order]
    return ts[idx], customer[idx], platform[idx], session[idx], n_items[idx]


def _daily_price_level(
    lday: np.ndarray, list_cents: np.ndarray, promo: np.ndarray, quantity: np.ndarray
) -> np.ndarray:
    """Unit prices: list price x the line's promotion x the day's promotion depth.

    The day factor brings each day's merchandise value to (lines x the average line value): a few
    expensive items would otherwise swing a small shop's daily GMV by a quarter, and the GMV
    anomaly check would flag ordinary days. Prices never exceed the list price; two passes make
    up most of what that cap takes away.
    """
    days = int(lday.max()) + 1 if len(lday) else 0
    price = list_cents * promo
    lines = np.bincount(lday, minlength=days)
    target = lines * (price * quantity).mean() if len(price) else lines * 0.0
    for lo, hi in ((0.6, 1.5), (0.85, 1.15)):  # two passes
        raw = np.bincount(lday, weights=price * quantity, minlength=days)
        factor = np.clip(np.divide(target, raw, out=np.ones(days), where=raw > 0), lo, hi)
        price = np.minimum(price * factor[lday], list_cents)
    return cents(price / 100.0)


def make_orders(
    plan: Plan, sess: Sessions, vis: Visitors, cust: Customers, prods: Products, stop: np.ndarray
) -> Orders:
    """Orders of every source; `stop` per customer: the day they stop buying (see plants)."""
    rng = stream(plan.seed, "orders")
    ts, customer, platform, session, n_items = _order_sources(rng, plan, sess, vis, cust, stop)
    day = plan.clock.day_of(ts)
    drawn = n_items == 0
    n_items[drawn] = 1 + choice_from_u(strat_uniform(rng, day[drawn]), vocab.ITEMS_MIX)

    line_order, line_no = runs(n_items)
    lday = day[line_order]
    # Products by stratified draws over a price-ordered popularity CDF: each day's lines cover
    # the price bands in their usual proportions, which keeps daily GMV close to plan.
    u = strat_uniform(rng, lday) * prods.cdf_by_price[-1]
    pos = np.minimum(np.searchsorted(prods.cdf_by_price, u, side="right"), len(prods) - 1)
    product = prods.by_price[pos]
    quantity = 1 + choice_from_u(strat_uniform(rng, lday), vocab.QUANTITY_MIX)
    promo = vocab.PROMO_FACTOR[choice_from_u(strat_uniform(rng, lday), vocab.PROMO_MIX)]
    changed = (prods.change_ts[product] >= 0) & (ts[line_order] >= prods.change_ts[product])
    list_cents = np.where(changed, prods.new_price[product], prods.price[product])
    unit_cents = _daily_price_level(lday, list_cents, promo, quantity)
    merch = np.bincount(line_order, weights=unit_cents * quantity, minlength=len(ts))
    has_coupon = strat_uniform(rng, day) < vocab.COUPON_SHARE
    floor = np.array([c[3] for c in vocab.COUPONS]) * 100
    code = rng.integers(0, len(vocab.COUPONS), size=len(ts))
    code = np.where(merch >= floor[code], code, 0)  # below the minimum spend: the welcome coupon
    none = np.zeros(len(ts), dtype=np.int64)
    return Orders(
        ts=ts,
        day=day,
        customer=customer,
        platform=platform,
        session=session,
        n_items=n_items,
        line_order=line_order,
        line_no=line_no + 1,
        product=product,
        quantity=quantity,
        unit_cents=unit_cents,
        merch=none,
        coupon=np.where(has_coupon, code, -1),
        discount=none,
        shipping=none,
        value=none,
    ).with_totals()


def order_items_table(orders: Orders, product_ids: pa.StringArray) -> dict:
    return {
        "_dt": orders.day[orders.line_order],
        "order_id": orders.ids.take(pa.array(orders.line_order)),
        "line_number": int_col(orders.line_no),
        "product_id": product_ids.take(pa.array(orders.product)),
        "quantity": int_col(orders.quantity),
        "unit_price": money_col(orders.unit_cents),
    }


# --- payments ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payments:
    order: np.ndarray
    ts: np.ndarray
    method: np.ndarray
    success: np.ndarray
    outcome: np.ndarray  # per order: PAY_* outcome
    paid_ts: np.ndarray  # per order: successful attempt, -1 if unpaid


def make_payments(plan: Plan, orders: Orders) -> Payments:
    rng = stream(plan.seed, "payments")
    n = len(orders)
    # Exact daily counts of the rarer paths (error-diffused); the rest pay at the first attempt.
    per_day = np.bincount(orders.day, minlength=plan.days)
    n_paths = len(PAYMENT_PATHS)
    # Diffuse the running sums over paths, so the day's total of rare paths is tight as well.
    cum = np.cumsum(per_day[:, None] * plan.payment_mix[:, 1:], axis=1)
    cum_counts = np.minimum(np.stack([diffuse(c) for c in cum.T], axis=1), per_day[:, None])
    cum_counts = np.maximum.accumulate(cum_counts, axis=1)
    counts = np.zeros((plan.days, n_paths), dtype=np.int64)
    counts[:, 1:] = np.diff(cum_counts, axis=1, prepend=0)
    path = assign_counts(rng, orders.day, counts)
    outcome = np.array([p[0] for p in PAYMENT_PATHS])[path]
    attempts = np.array([p[1] for p in PAYMENT_PATHS])[path]
    order, k = runs(attempts)
    m = len(order)
    # Seconds since the order: first attempt within two minutes, retries minutes apart.
    gap = np.where(k == 0, rng.integers(5, 120, size=m), rng.integers(20, 900, size=m))
    cum = np.cumsum(gap)
    first = np.flatnonzero(k == 0)
    ts = orders.ts[order] + cum - (cum - gap)[first][np.cumsum(k == 0) - 1]
    success = (outcome[order] <= PAY_RETRY_OK) & (k == attempts[order] - 1)
    base = np.zeros(n, dtype=np.int64)
    for p in range(len(vocab.PLATFORMS)):  # five platforms, each with its method mix
        m = orders.platform == p
        base[m] = choice(rng, int(m.sum()), vocab.METHOD_MIX[p])
    switch = (k > 0) & (rng.random(len(order)) < 0.3)
    method = np.where(switch, (base[order] + 1) % 3, base[order])  # retry with another wallet
    keep = ts < plan.clock.end
    paid_ts = np.full(n, -1, dtype=np.int64)
    ok = keep & success
    paid_ts[order[ok]] = ts[ok]
    return Payments(order[keep], ts[keep], method[keep], success[keep], outcome, paid_ts)


def payments_table(plan: Plan, pay: Payments, orders: Orders) -> dict:
    n = len(pay.ts)
    return {
        "_dt": plan.clock.day_of(pay.ts),
        "payment_id": format_ids("pay", np.arange(1, n + 1), id_width(n, 7)),
        "order_id": orders.ids.take(pa.array(pay.order)),
        "attempt_ts": ts_col(pay.ts),
        "method": strings(vocab.PAYMENT_METHODS).take(pa.array(pay.method)),
        "amount": money_col(orders.value[pay.order]),
        "status": strings(contract.PAYMENT_STATUSES).take(pa.array(np.where(pay.success, 0, 1))),
    }


# --- fulfilment, cancellations, returns ----------------------------------------------------------
@dataclass(frozen=True)
class Fulfilment:
    """Per order: lifecycle timestamps (-1 if it did not happen within the range)."""

    paid_ts: np.ndarray
    shipped_ts: np.ndarray
    delivered_ts: np.ndarray
    cancelled_ts: np.ndarray
    returned_ts: np.ndarray
    promised_day: np.ndarray
    late: np.ndarray  # delivered after the promised date
    refund_ts: np.ndarray  # -1 if no refund
    refund_cents: np.ndarray
    refund_kind: np.ndarray  # 0 none, 1 cancelled after payment, 2 return, 3 partial


def _at_local(
    rng: np.random.Generator, plan: Plan, day: np.ndarray, lo_h: int, hi_h: int
) -> np.ndarray:
    return plan.clock.midnight(day) + rng.integers(lo_h * 3600, hi_h * 3600, size=len(day))


def make_fulfilment(plan: Plan, orders: Orders, pay: Payments) -> Fulfilment:
    rng = stream(plan.seed, "fulfilment")
    n, end = len(orders), plan.clock.end
    day = orders.day
    paid = pay.paid_ts >= 0
    none = np.full(n, -1, dtype=np.int64)

    # Unpaid orders are cancelled by the 24-hour timeout, except half of those never attempted,
    # which stay `created` (abandoned, e.g. waiting for a bank transfer).
    timeout = (pay.outcome == PAY_GAVE_UP) | ((pay.outcome == PAY_NONE) & (rng.random(n) < 0.5))
    cancelled = np.where(~paid & timeout, orders.ts + DAY_S + rng.integers(0, 3600, n), -1)
    # A few paid orders are cancelled before shipping, the next day.
    cancel_paid = paid & (rng.random(n) < CANCEL_AFTER_PAYMENT)
    cp_ts = np.maximum(_at_local(rng, plan, day + 1, 9, 22), pay.paid_ts + 3600)
    cancelled = np.where(cancel_paid, cp_ts, cancelled)

    ships = paid & ~cancel_paid
    ship_day = day + choice(rng, n, vocab.SHIP_DAYS_MIX)
    shipped = np.where(
        ships, np.maximum(_at_local(rng, plan, ship_day, 9, 21), pay.paid_ts + 3600), -1
    )
    lost = rng.random(n) < LOST_PARCEL
    transit = choice_from_u(strat_uniform(rng, day), vocab.TRANSIT_DAYS_MIX)
    deliver_day = plan.clock.day_of(np.maximum(shipped, 0)) + transit
    delivered = np.where(
        ships & ~lost, np.maximum(_at_local(rng, plan, deliver_day, 8, 21), shipped + 3600), -1
    )
    promised_day = day + choice_from_u(strat_uniform(rng, day), vocab.PROMISE_DAYS_MIX)
    shipped = np.where(shipped < end, shipped, -1)
    delivered = np.where((shipped >= 0) & (delivered < end), delivered, -1)
    cancelled = np.where(cancelled < end, cancelled, -1)
    is_del = delivered >= 0
    late = is_del & (plan.clock.day_of(delivered) > promised_day)

    late_x = np.where(late, LATE_FACTOR, 1.0)
    returned = is_del & (rng.random(n) < RETURN_RATE * late_x)
    partial = is_del & ~returned & (rng.random(n) < PARTIAL_REFUND_RATE * late_x)
    ret_ts = delivered + rng.integers(DAY_S, 10 * DAY_S, size=n)
    part_ts = delivered + rng.integers(DAY_S // 2, 7 * DAY_S, size=n)
    cbs_ts = cancelled + rng.integers(60, 3600, size=n)
    refund_kind = np.select([cancel_paid & (cancelled >= 0), returned, partial], [1, 2, 3], 0)
    refund_ts = np.select(
        [refund_kind == 1, refund_kind == 2, refund_kind == 3], [cbs_ts, ret_ts, part_ts], -1
    )
    refund_kind = np.where(refund_ts < end, refund_kind, 0)
    refund_ts = np.where(refund_kind > 0, refund_ts, -1)
    share = rng.uniform(0.1, 0.5, size=n)
    refund_cents = np.select(
        [refund_kind == 1, refund_kind == 2, refund_kind == 3],
        [orders.value, orders.value, np.rint(orders.merch * share).astype(np.int64)],
        0,
    )
    return Fulfilment(
        paid_ts=pay.paid_ts,
        shipped_ts=shipped,
        delivered_ts=delivered,
        cancelled_ts=cancelled,
        returned_ts=np.where(refund_kind == 2, refund_ts, none),
        promised_day=promised_day,
        late=late,
        refund_ts=refund_ts,
        refund_cents=refund_cents,
        refund_kind=refund_kind,
    )


def orders_table(plan: Plan, orders: Orders, ful: Fulfilment, customer_ids: pa.StringArray) -> dict:
    """One row per order and business day on which its status changed, carrying the status at
    the end of that day: the order's first row is in its order-day partition (created or paid),
    later rows re-deliver it with the newer status and updated_ts."""
    steps = (
        (ST_CREATED, orders.ts),
        (ST_PAID, ful.paid_ts),
        (ST_SHIPPED, ful.shipped_ts),
        (ST_DELIVERED, ful.delivered_ts),
        (ST_CANCELLED, ful.cancelled_ts),
        (ST_RETURNED, ful.returned_ts),
    )
    o = np.concatenate([np.flatnonzero(t >= 0) for _, t in steps])
    st = np.concatenate([np.full(int((t >= 0).sum()), s) for s, t in steps])
    ts = np.concatenate([t[t >= 0] for _, t in steps])
    day = plan.clock.day_of(ts)
    order = np.lexsort((st, ts, o))
    o, st, ts, day = o[order], st[order], ts[order], day[order]
    last = np.ones(len(o), dtype=bool)
    last[:-1] = (o[1:] != o[:-1]) | (day[1:] != day[:-1])
    o, st, ts, day = o[last], st[last], ts[last], day[last]

    def known(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = (t[o] >= 0) & (t[o] <= ts)
        return t[o], v

    ship, ship_v = known(ful.shipped_ts)
    dlv, dlv_v = known(ful.delivered_ts)
    cnl, cnl_v = known(ful.cancelled_ts)
    coupon_codes = strings([c[0] for c in vocab.COUPONS])
    idx = pa.array(o)
    return {
        "_dt": day,
        "order_id": orders.ids.take(idx),
        "customer_id": customer_ids.take(pa.array(orders.customer[o])),
        "order_ts": ts_col(orders.ts[o]),
        "platform": strings(vocab.PLATFORMS).take(pa.array(orders.platform[o])),
        "status": strings(contract.ORDER_STATUSES).take(pa.array(st)),
        "coupon_code": take(coupon_codes, orders.coupon[o]),
        "discount_amount": money_col(orders.discount[o]),
        "shipping_fee": money_col(orders.shipping[o]),
        "promised_delivery_date": date_col(plan.clock.epoch_day0 + ful.promised_day[o]),
        "shipped_ts": ts_col(ship, ship_v),
        "delivered_ts": ts_col(dlv, dlv_v),
        "cancelled_ts": ts_col(cnl, cnl_v),
        "updated_ts": ts_col(ts),
    }


def refunds_table(plan: Plan, orders: Orders, ful: Fulfilment) -> dict:
    rng = stream(plan.seed, "refund-reasons")
    o = np.flatnonzero(ful.refund_kind > 0)
    o = o[np.lexsort((o, ful.refund_ts[o]))]
    kind = ful.refund_kind[o]
    n = len(o)
    late = ful.late[o]
    ret_reason = np.where(
        late & (rng.random(n) < 0.5),
        len(vocab.RETURN_REASONS) - 1,
        rng.integers(0, len(vocab.RETURN_REASONS) - 1, size=n),
    )
    part_reason = np.where(
        late & (rng.random(n) < 0.5),
        len(vocab.REFUND_REASONS_PARTIAL) - 1,
        rng.integers(0, len(vocab.REFUND_REASONS_PARTIAL) - 1, size=n),
    )
    reasons = strings(("order_cancelled", *vocab.RETURN_REASONS, *vocab.REFUND_REASONS_PARTIAL))
    code = np.select(
        [kind == 1, kind == 2], [0, 1 + ret_reason], 1 + len(vocab.RETURN_REASONS) + part_reason
    )
    return {
        "_dt": plan.clock.day_of(ful.refund_ts[o]),
        "refund_id": format_ids("rf", np.arange(1, n + 1), id_width(n, 6)),
        "order_id": orders.ids.take(pa.array(o)),
        "refund_ts": ts_col(ful.refund_ts[o]),
        "amount": money_col(ful.refund_cents[o]),
        "reason": reasons.take(pa.array(code)),
        "is_return": bool_col(kind == 2),
    }
