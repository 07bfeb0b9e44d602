"""Tracking events: every planned session expanded into its events, one business day at a time.

Within a session the events follow the funnel: landing page view (carrying the utm parameters and
referrer), browsing (page views, impressions with their clicks right after, searches), product
pages (likes, shares, comments), cart, checkout, purchase (carrying the order id). Gaps between
events are a random split of the session's planned duration, so no gap reaches 30 minutes and the
last event of a purchase session is its purchase, seconds after the order was created.

Events of sessions that run past local midnight land in the next day's partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from orchestration import contract
from orchestration.sample import traffic as tr
from orchestration.sample import vocab
from orchestration.sample.commerce import Customers, Orders, Products
from orchestration.sample.core import (
    Clock,
    choice_from_u,
    format_ids,
    hash_uniform,
    id_width,
    runs,
    stream,
    strings,
    take,
    ts_col,
)
from orchestration.sample.marketing import Campaigns
from orchestration.sample.writer import EVENTS_JSON_DAYS, Tally, to_table, write_partition

ET = {name: i for i, name in enumerate(contract.EVENT_TYPES)}
PT = {name: i for i, name in enumerate(contract.PAGE_TYPES)}
# Per planned kind: event type, fixed page type (-1: none or drawn), funnel phase for ordering.
KIND_TYPE = np.array(
    [
        ET["page_view"],  # landing
        ET["page_view"],  # browse
        ET["impression"],
        ET["click"],
        ET["search"],
        ET["page_view"],  # product
        ET["like"],
        ET["share"],
        ET["comment"],
        ET["add_to_cart"],
        ET["page_view"],  # cart
        ET["remove_from_cart"],
        ET["page_view"],  # checkout
        ET["begin_checkout"],
        ET["purchase"],
    ]
)
KIND_PAGE = np.array(
    [-1, -1, -1, -1, -1, PT["product"], -1, -1, -1, -1, PT["cart"], -1, PT["checkout"], -1, -1]
)
KIND_PHASE = np.array([0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8])
# Salts of the counter-based draws (see core.hash_uniform), one per kind of choice.
SALT_PRODUCT, SALT_AD, SALT_PAGE, SALT_PLACEMENT, SALT_SEARCH = 11, 12, 14, 15, 16
# Every search term as typed: as is, Title Case, UPPER, leading space, trailing space.
SEARCH_TEXTS = strings(
    [v for t in vocab.SEARCH_TERMS for v in (t, t.title(), t.upper(), " " + t.title(), t + " ")]
)


@dataclass(frozen=True)
class EventContext:
    """Everything the per-day expansion looks up, built once."""

    clock: Clock
    sess: tr.Sessions
    visitor_device: np.ndarray
    visitor_ids: pa.Array
    customer_of_visitor: np.ndarray
    customer_signup: np.ndarray
    customer_ids: pa.Array
    order_of_session: np.ndarray
    order_first_line: np.ndarray
    line_product: np.ndarray
    order_ids: pa.Array
    product_ids: pa.Array
    product_cdf: np.ndarray
    campaign_ids: pa.Array
    id_width: int


def make_context(
    clock: Clock,
    vis: tr.Visitors,
    sess: tr.Sessions,
    cust: Customers,
    orders: Orders,
    prods: Products,
    camps: Campaigns,
) -> EventContext:
    order_of_session = np.full(len(sess), -1, dtype=np.int64)
    tracked = orders.session >= 0
    order_of_session[orders.session[tracked]] = np.flatnonzero(tracked)
    total = int(sess.counts.sum(dtype=np.int64))
    return EventContext(
        clock=clock,
        sess=sess,
        visitor_device=vis.device,
        visitor_ids=format_ids("v", np.arange(1, len(vis) + 1), id_width(len(vis), 6)),
        customer_of_visitor=cust.of_visitor,
        customer_signup=cust.signup_ts,
        customer_ids=cust.ids,
        order_of_session=order_of_session,
        order_first_line=orders.first_line,
        line_product=orders.product,
        order_ids=orders.ids,
        product_ids=prods.ids,
        product_cdf=prods.cdf,
        campaign_ids=camps.ids,
        id_width=id_width(total, 8),
    )


def _product_slot(ctx: EventContext, gid: np.ndarray, slot: np.ndarray, salt: int) -> np.ndarray:
    """Product shown in a session's k-th product slot: the order's k-th line in a purchase session,
    otherwise a popular product picked by a hash of (session, slot)."""
    u = hash_uniform(gid, slot, salt) * ctx.product_cdf[-1]
    product = np.minimum(
        np.searchsorted(ctx.product_cdf, u, side="right"), len(ctx.product_cdf) - 1
    )
    o = ctx.order_of_session[gid]
    items = np.where(o >= 0, ctx.sess.items[gid], 0)
    from_order = slot < items
    line = ctx.order_first_line[np.maximum(o, 0)] + slot
    return np.where(
        from_order, ctx.line_product[np.minimum(line, len(ctx.line_product) - 1)], product
    )


def _search_text(ctx: EventContext, gid: np.ndarray) -> np.ndarray:
    """Index into SEARCH_TEXTS of a session's search: a term by its share (the zero-conversion
    term only in sessions without a purchase; theirs go to the top term), typed in a variant."""
    term = choice_from_u(hash_uniform(gid, 0, SALT_SEARCH), vocab.SEARCH_TERM_SHARE)
    buys = ctx.sess.purchase[gid] & (term == vocab.SEARCH_ZERO_CONVERSION)
    term = np.where(buys, vocab.SEARCH_TOP, term)
    variant = choice_from_u(hash_uniform(gid, 1, SALT_SEARCH), vocab.SEARCH_VARIANT_MIX)
    return term * len(vocab.SEARCH_VARIANT_MIX) + variant


def _expand(ctx: EventContext, lo: int, hi: int, rng: np.random.Generator) -> dict:
    """Events of sessions lo..hi-1 as typed columns plus their local day."""
    sess = ctx.sess
    counts = sess.counts[lo:hi].astype(np.int64)
    n_s = hi - lo
    parents, kinds, ordinals = [], [], []
    for k in range(tr.N_KINDS):  # one pass per event kind
        p, o = runs(counts[:, k])
        parents.append(p)
        kinds.append(np.full(len(p), k))
        ordinals.append(o)
    local = np.concatenate(parents)
    kind = np.concatenate(kinds)
    ordinal = np.concatenate(ordinals)
    gid = lo + local

    # Funnel order; clicks sit right after the impression they click, cart steps in sequence.
    sub = hash_uniform(gid, kind * 4096 + ordinal, SALT_PAGE)
    imp_key = hash_uniform(gid, tr.EV_IMPRESSION * 4096 + ordinal, SALT_PAGE)
    sub = np.where(kind == tr.EV_CLICK, imp_key + 1e-12, sub)
    sub = np.where(KIND_PHASE[kind] >= 3, ordinal.astype(np.float64), sub)
    order = np.lexsort((sub, KIND_PHASE[kind], local))
    local, kind, ordinal, gid = local[order], kind[order], ordinal[order], gid[order]
    n = len(local)

    # Timestamps: the session's duration split at random between its events.
    first = np.ones(n, dtype=bool)
    first[1:] = local[1:] != local[:-1]
    gap = np.where(first, 0.0, rng.exponential(size=n))
    cum = np.cumsum(gap)
    start_cum = cum[first][np.cumsum(first) - 1]
    within = cum - start_cum
    last = np.ones(n, dtype=bool)
    last[:-1] = local[1:] != local[:-1]
    total = np.zeros(n_s)
    total[local[last]] = within[last]
    frac = np.divide(within, total[local], out=np.zeros(n), where=total[local] > 0)
    ts = sess.start[gid] + np.floor(sess.duration[gid] * frac).astype(np.int64)

    visitor = sess.visitor[gid]
    cust = ctx.customer_of_visitor[visitor]
    logged_in = (cust >= 0) & (ts >= ctx.customer_signup[np.maximum(cust, 0)])
    etype = KIND_TYPE[kind]

    page = KIND_PAGE[kind].copy()
    landing = kind == tr.EV_LANDING
    page[landing] = sess.landing[gid[landing]]
    browse = kind == tr.EV_BROWSE
    page[browse] = choice_from_u(
        hash_uniform(gid[browse], ordinal[browse], SALT_PAGE + 100), vocab.BROWSE_PAGE_MIX
    )

    # Placements: clicked impressions (ordinal < clicks) lean to high-CTR placements.
    ad = (kind == tr.EV_IMPRESSION) | (kind == tr.EV_CLICK)
    clicked = ordinal < counts[local, tr.EV_CLICK]
    share = vocab.PLACEMENT_SHARE
    u_pl = hash_uniform(gid, ordinal, SALT_PLACEMENT)
    placement = np.where(
        clicked,
        choice_from_u(u_pl, share * vocab.PLACEMENT_CTR),
        choice_from_u(u_pl, share * (1 - vocab.PLACEMENT_CTR)),
    )
    placement = np.where(ad, placement, -1)

    # Products: product pages and cart steps share slots; likes etc. are about the first product.
    slot = np.select(
        [
            kind == tr.EV_PRODUCT,
            kind == tr.EV_CART_ADD,
            kind == tr.EV_CART_REMOVE,
        ],
        [ordinal, ordinal, counts[local, tr.EV_CART_ADD] - 1],
        0,
    )
    product = _product_slot(ctx, gid, slot, SALT_PRODUCT)
    ad_product = _product_slot(ctx, gid, 10_000 + ordinal, SALT_AD)
    has_product = np.isin(
        kind,
        [tr.EV_PRODUCT, tr.EV_LIKE, tr.EV_SHARE, tr.EV_COMMENT, tr.EV_CART_ADD, tr.EV_CART_REMOVE],
    ) | (landing & (page == PT["product"]))
    ad_has = ad & vocab.PLACEMENT_HAS_PRODUCT[np.maximum(placement, 0)]
    product = np.where(has_product, product, np.where(ad_has, ad_product, -1))

    order_idx = np.where(kind == tr.EV_PURCHASE, ctx.order_of_session[gid], -1)
    search = np.full(n, -1)
    searched = kind == tr.EV_SEARCH
    search[searched] = _search_text(ctx, gid[searched])
    source = np.where(landing, sess.source[gid], -1)
    campaign = np.where(landing, sess.campaign[gid], -1)
    ids = np.arange(n)  # numbered later, when the global offset is known
    return {
        "_day": ctx.clock.day_of(ts),
        "_n": ids,
        "event_ts": ts_col(ts),
        "visitor_id": ctx.visitor_ids.take(pa.array(visitor)),
        "customer_id": take(ctx.customer_ids, np.where(logged_in, cust, -1)),
        "event_type": strings(contract.EVENT_TYPES).take(pa.array(etype)),
        "page_type": take(strings(contract.PAGE_TYPES), page),
        "product_id": take(ctx.product_ids, product),
        "order_id": take(ctx.order_ids, order_idx),
        "placement": take(strings(vocab.PLACEMENTS), placement),
        "device": strings(contract.DEVICES).take(pa.array(ctx.visitor_device[visitor])),
        "utm_source": take(strings(vocab.SOURCE_UTM_SOURCE), source),
        "utm_medium": take(strings(vocab.SOURCE_UTM_MEDIUM), source),
        "utm_campaign": take(ctx.campaign_ids, campaign),
        "referrer": take(strings(vocab.SOURCE_REFERRER), source),
        "search_query": take(SEARCH_TEXTS, search),
    }


def write_events(out: Path, ctx: EventContext, seed: int, tally: Tally) -> None:
    """Expand and write events day by day; spill-over past midnight joins the next day's file."""
    clock = ctx.clock
    bounds = np.searchsorted(ctx.sess.day, np.arange(clock.days + 1), side="left")
    carry: pa.Table | None = None
    next_id = 1
    for day in range(clock.days):  # one business day at a time bounds memory
        cols = _expand(ctx, int(bounds[day]), int(bounds[day + 1]), stream(seed, "events", day))
        n = len(cols["_n"])
        cols["event_id"] = format_ids("ev", np.arange(next_id, next_id + n), ctx.id_width)
        next_id += n
        ev_day = cols.pop("_day")
        cols.pop("_n")
        table = to_table("events", cols)
        today = ev_day == day
        parts = [table.filter(pa.array(today))]
        if carry is not None:
            parts.insert(0, carry)
        carry = table.filter(pa.array(~today))
        part = pa.concat_tables(parts)
        if part.num_rows:
            fmt = "jsonl.gz" if day < EVENTS_JSON_DAYS else "parquet"
            write_partition(out, "events", clock, day, part, fmt, tally)
    if carry is not None and carry.num_rows:
        raise RuntimeError("events past the end of the range")
