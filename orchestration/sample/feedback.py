"""Reviews, service tickets and survey answers, driven by what happened to the orders.

Late deliveries are the lever: they get worse ratings, more (and more complaining) tickets and
lower NPS/CSAT, so that satisfaction KPIs move with fulfilment KPIs as in the source reports.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from orchestration import contract
from orchestration.sample import vocab
from orchestration.sample.commerce import (
    PAY_GAVE_UP,
    PAY_RETRY_OK,
    Customers,
    Fulfilment,
    Orders,
    Payments,
)
from orchestration.sample.core import (
    DAY_S,
    bool_col,
    choice,
    choice_from_u,
    diffuse,
    format_ids,
    id_width,
    int_col,
    local_times,
    pick_exact,
    stream,
    strings,
    take,
    ts_col,
)
from orchestration.sample.plan import Plan

REVIEW_SHARE = 0.30
REVIEW_SHARE_LATE = 0.36
# Odds of a negative (1-2) rating, late vs on time; the daily count of negatives is set by the
# plan and these odds decide which reviews they are.
NEGATIVE_WEIGHT_LATE = 8.0
# Rating mixes within negatives (1, 2) and within the others (3, 4, 5): on time vs late.
NEGATIVE_MIX_ON_TIME = np.array([0.45, 0.55])
NEGATIVE_MIX_LATE = np.array([0.60, 0.40])
OTHER_MIX_ON_TIME = np.array([0.10, 0.28, 0.62])
OTHER_MIX_LATE = np.array([0.40, 0.35, 0.25])
ACCOUNT_TICKETS_PER_ORDER = 0.004

TK_DELIVERY, TK_REFUND, TK_QUALITY, TK_PAYMENT, TK_ACCOUNT, TK_OTHER = range(6)


def _text_choice(rng: np.random.Generator, rating: np.ndarray, null_share: float) -> pa.Array:
    """Review/comment text by mood; a share left empty."""
    pools = (vocab.REVIEW_TEXTS_BAD, vocab.REVIEW_TEXTS_MIXED, vocab.REVIEW_TEXTS_GOOD)
    texts = strings([t for p in pools for t in p])
    offset = np.cumsum([0, *[len(p) for p in pools]])
    mood = np.select([rating <= 2, rating == 3], [0, 1], 2)
    size = np.array([len(p) for p in pools])[mood]
    pick = offset[mood] + rng.integers(0, 1 << 30, size=len(rating)) % size
    return take(texts, np.where(rng.random(len(rating)) < null_share, -1, pick))


def reviews_table(
    plan: Plan,
    orders: Orders,
    ful: Fulfilment,
    customer_ids: pa.StringArray,
    product_ids: pa.Array,
    planted: tuple[np.ndarray, np.ndarray],
) -> dict:
    """Reviews of delivered orders; `planted` (order, review_ts): 1-star reviews on top."""
    rng = stream(plan.seed, "reviews")
    o = np.flatnonzero(ful.delivered_ts >= 0)
    late = ful.late[o]
    chosen = rng.random(len(o)) < np.where(late, REVIEW_SHARE_LATE, REVIEW_SHARE)
    o, late = o[chosen], late[chosen]
    lag = np.maximum(np.exp(rng.normal(np.log(2.0), 0.8, size=len(o))) * DAY_S, 3600)
    ts = ful.delivered_ts[o] + lag.astype(np.int64)
    keep = (ts < plan.clock.end) & ~np.isin(o, planted[0])
    o = np.concatenate([o[keep], planted[0]])
    ts = np.concatenate([ts[keep], planted[1]])
    forced = np.arange(len(o)) >= keep.sum()
    order = np.lexsort((o, ts))
    o, ts, forced = o[order], ts[order], forced[order]
    late = ful.late[o]
    n = len(o)
    day = plan.clock.day_of(ts)
    # Exactly the planned share of negatives per day (a smooth daily series), late ones first.
    k = diffuse(np.bincount(day, minlength=plan.days) * plan.negative_review_share)
    weight = np.where(forced, 0.0, np.where(late, NEGATIVE_WEIGHT_LATE, 1.0))
    negative = pick_exact(rng, day, k, weight)
    u = rng.random(n)
    neg_mix = np.where(late[:, None], NEGATIVE_MIX_LATE, NEGATIVE_MIX_ON_TIME)
    other_mix = np.where(late[:, None], OTHER_MIX_LATE, OTHER_MIX_ON_TIME)
    rating = np.where(negative, 1 + choice_from_u(u, neg_mix), 3 + choice_from_u(u, other_mix))
    rating = np.where(forced, 1, rating)
    line = orders.first_line[o] + rng.integers(0, 1 << 30, size=n) % orders.n_items[o]
    return {
        "_dt": day,
        "review_id": format_ids("rv", np.arange(1, n + 1), id_width(n, 6)),
        "order_id": orders.ids.take(pa.array(o)),
        "product_id": product_ids.take(pa.array(orders.product[line])),
        "customer_id": customer_ids.take(pa.array(orders.customer[o])),
        "rating": int_col(rating),
        "review_text": _text_choice(rng, rating, 0.12),
        "review_ts": ts_col(ts),
    }


def _ticket_sources(
    rng: np.random.Generator, plan: Plan, orders: Orders, pay: Payments, ful: Fulfilment
) -> tuple[np.ndarray, ...]:
    """(order, category, opened_ts, complaint propensity) of tickets about orders."""
    n = len(orders)
    end = plan.clock.end
    u = rng.random((5, n))
    lost = (ful.shipped_ts >= 0) & (ful.delivered_ts < 0) & (ful.shipped_ts + 8 * DAY_S < end)
    late_open = plan.clock.midnight(ful.promised_day + 1) + rng.integers(8 * 3600, 22 * 3600, n)
    lost_open = ful.shipped_ts + rng.integers(6 * DAY_S, 8 * DAY_S, n)
    delivery = (ful.late & (u[0] < 0.35)) | (lost & (u[0] < 0.8))
    delivery_ts = np.where(lost, lost_open, late_open)

    refund = (ful.refund_kind > 0) & (u[1] < 0.4)
    refund_ts = np.maximum(ful.refund_ts - rng.integers(2 * 3600, 2 * DAY_S, n), orders.ts + 600)

    delivered = ful.delivered_ts >= 0
    quality = delivered & (u[2] < 0.012 * np.where(ful.late, 1.5, 1.0))
    quality_ts = ful.delivered_ts + rng.integers(DAY_S // 2, 10 * DAY_S, n)

    outage = np.zeros(plan.days, dtype=bool)
    outage[plan.anomaly_days("payment_outage")] = True
    trouble = (pay.outcome == PAY_RETRY_OK) | (pay.outcome == PAY_GAVE_UP)
    payment = trouble & (u[3] < np.where(outage[orders.day], 0.4, 0.15))
    payment_ts = orders.ts + rng.integers(300, 3 * 3600, n)

    parts = (
        (delivery, TK_DELIVERY, delivery_ts, 0.55),
        (refund, TK_REFUND, refund_ts, 0.20),
        (quality, TK_QUALITY, quality_ts, 0.35),
        (payment, TK_PAYMENT, payment_ts, 0.08),
    )
    order = np.concatenate([np.flatnonzero(m) for m, _, _, _ in parts])
    cat = np.concatenate([np.full(int(m.sum()), c) for m, c, _, _ in parts])
    ts = np.concatenate([t[m] for m, _, t, _ in parts])
    prop = np.concatenate([np.full(int(m.sum()), p) for m, _, _, p in parts])
    prop = np.where(ful.late[order], np.minimum(prop * 1.3, 0.9), prop)
    return order, cat, ts, prop


def tickets_table(
    plan: Plan,
    orders: Orders,
    pay: Payments,
    ful: Fulfilment,
    cust: Customers,
    customer_ids: pa.StringArray,
    planted: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[dict, dict[str, np.ndarray]]:
    """Tickets, delivered on the day they are opened and re-delivered on each later day their
    first response or resolution arrives (the feed has no updated_ts: the newer partition wins).
    `planted` (order, category, opened_ts): complaints on top of the planned ones. Also returns
    per-ticket facts the surveys need."""
    rng = stream(plan.seed, "tickets")
    clock = plan.clock
    o_order, o_cat, o_ts, o_prop = _ticket_sources(rng, plan, orders, pay, ful)
    o_order, o_cat, o_ts = (
        np.concatenate([a, b]) for a, b in zip((o_order, o_cat, o_ts), planted, strict=True)
    )
    o_prop = np.concatenate([o_prop, np.full(len(planted[0]), -1.0)])  # -1: forced complaint
    o_cust = orders.customer[o_order]

    # Account and other questions, not about an order.
    per_day = diffuse(np.bincount(orders.day, minlength=plan.days) * ACCOUNT_TICKETS_PER_ORDER)
    a_day = np.repeat(np.arange(plan.days), per_day)
    a_ts = local_times(rng, clock, a_day, vocab.HOUR_WEIGHTS)
    a_cust = rng.integers(0, max(cust.n_web, 1), size=len(a_ts))
    a_ok = cust.signup_ts[a_cust] < a_ts
    a_ts, a_cust = a_ts[a_ok], a_cust[a_ok]
    a_cat = np.where(rng.random(len(a_ts)) < 0.6, TK_ACCOUNT, TK_OTHER)

    order = np.concatenate([o_order, np.full(len(a_ts), -1)])
    customer = np.concatenate([o_cust, a_cust])
    cat = np.concatenate([o_cat, a_cat])
    opened = np.concatenate([o_ts, a_ts])
    prop = np.concatenate([o_prop, np.full(len(a_ts), 0.05)])
    keep = (opened >= clock.day0) & (opened < clock.end)
    idx = np.flatnonzero(keep)[np.lexsort((np.flatnonzero(keep), opened[keep]))]
    order, customer, cat, opened, prop = (a[idx] for a in (order, customer, cat, opened, prop))
    n = len(opened)

    # Exactly the planned complaints per paid order of the day, the likeliest tickets first.
    paid_per_day = np.bincount(orders.day[pay.paid_ts >= 0], minlength=plan.days)
    k = diffuse(paid_per_day * plan.complaint_rate)
    complaint = pick_exact(rng, clock.day_of(opened), k, np.maximum(prop, 0)) | (prop < 0)
    channel = choice(rng, n, vocab.TICKET_CHANNEL_MIX)
    first_min = vocab.FIRST_RESPONSE_MEDIAN_MIN[channel] * np.exp(rng.normal(0, 0.9, n))
    first = opened + np.maximum(first_min * 60, 30).astype(np.int64)
    resolve_h = np.where(complaint, 30.0, 16.0) * np.exp(rng.normal(0, 1.0, n))
    resolved = first + (resolve_h * 3600).astype(np.int64)
    unresolved = rng.random(n) < np.where(complaint, 0.10, 0.05)
    first = np.where(first < clock.end, first, -1)
    resolved = np.where(~unresolved & (resolved < clock.end), resolved, -1)

    # Change log: opened, first response, resolution; keep the last state per ticket and day.
    t = np.concatenate([np.arange(n), np.flatnonzero(first >= 0), np.flatnonzero(resolved >= 0)])
    when = np.concatenate([opened, first[first >= 0], resolved[resolved >= 0]])
    day = clock.day_of(when)
    srt = np.lexsort((when, t))
    t, when, day = t[srt], when[srt], day[srt]
    last = np.ones(len(t), dtype=bool)
    last[:-1] = (t[1:] != t[:-1]) | (day[1:] != day[:-1])
    t, when, day = t[last], when[last], day[last]
    first_known = (first[t] >= 0) & (first[t] <= when)
    resolved_known = (resolved[t] >= 0) & (resolved[t] <= when)
    ids = format_ids("tk", np.arange(1, n + 1), id_width(n, 6))
    table = {
        "_dt": day,
        "ticket_id": ids.take(pa.array(t)),
        "customer_id": customer_ids.take(pa.array(customer[t])),
        "order_id": take(orders.ids, order[t]),
        "category": strings(vocab.TICKET_CATEGORIES).take(pa.array(cat[t])),
        "is_complaint": bool_col(complaint[t]),
        "opened_ts": ts_col(opened[t]),
        "first_response_ts": ts_col(first[t], first_known),
        "resolved_ts": ts_col(resolved[t], resolved_known),
        "channel": strings(vocab.TICKET_CHANNELS).take(pa.array(channel[t])),
    }
    facts = {"customer": customer, "complaint": complaint, "resolved": resolved}
    return table, facts


def surveys_table(
    plan: Plan,
    orders: Orders,
    ful: Fulfilment,
    cust: Customers,
    tickets: dict[str, np.ndarray],
    customer_ids: pa.StringArray,
) -> dict:
    """NPS from customers after their first delivery; CSAT after tickets and some deliveries."""
    rng = stream(plan.seed, "surveys")
    end = plan.clock.end
    n_c = len(cust)
    delivered = ful.delivered_ts >= 0
    first_del = np.full(n_c, np.iinfo(np.int64).max)
    np.minimum.at(first_del, orders.customer[delivered], ful.delivered_ts[delivered])
    bad = np.zeros(n_c, dtype=bool)
    bad[orders.customer[ful.late | (ful.refund_kind == 2)]] = True
    bad[tickets["customer"][tickets["complaint"]]] = True

    nps_c = np.flatnonzero((first_del < end) & (rng.random(n_c) < 0.12))
    nps_ts = first_del[nps_c] + rng.integers(2 * DAY_S, 45 * DAY_S, size=len(nps_c))
    bucket = choice_from_u(
        rng.random(len(nps_c)),
        np.where(bad[nps_c, None], [[0.5, 0.3, 0.2]], [[0.15, 0.3, 0.55]]),
    )
    lo = np.array([0, 7, 9])[bucket]
    width = np.array([7, 2, 2])[bucket]
    nps_score = lo + rng.integers(0, 1 << 30, size=len(nps_c)) % width

    t_res = tickets["resolved"]
    t_idx = np.flatnonzero((t_res >= 0) & (rng.random(len(t_res)) < 0.3))
    t_ts = t_res[t_idx] + rng.integers(600, 2 * DAY_S, size=len(t_idx))
    t_mix = np.where(
        tickets["complaint"][t_idx, None],
        [[0.30, 0.25, 0.20, 0.15, 0.10]],
        [[0.05, 0.05, 0.15, 0.35, 0.40]],
    )
    t_score = 1 + choice_from_u(rng.random(len(t_idx)), t_mix)

    d_idx = np.flatnonzero(delivered & (rng.random(len(orders)) < 0.03))
    d_ts = ful.delivered_ts[d_idx] + rng.integers(3600, 3 * DAY_S, size=len(d_idx))
    d_mix = np.where(
        ful.late[d_idx, None], [[0.20, 0.20, 0.25, 0.20, 0.15]], [[0.03, 0.04, 0.13, 0.35, 0.45]]
    )
    d_score = 1 + choice_from_u(rng.random(len(d_idx)), d_mix)

    customer = np.concatenate([nps_c, tickets["customer"][t_idx], orders.customer[d_idx]])
    kind = np.concatenate(
        [np.zeros(len(nps_c), dtype=np.int64), np.ones(len(t_idx) + len(d_idx), dtype=np.int64)]
    )
    score = np.concatenate([nps_score, t_score, d_score])
    ts = np.concatenate([nps_ts, t_ts, d_ts])
    keep = ts < end
    idx = np.flatnonzero(keep)[np.lexsort((np.flatnonzero(keep), ts[keep]))]
    customer, kind, score, ts = customer[idx], kind[idx], score[idx], ts[idx]
    n = len(ts)
    # Comments: good words for high scores, complaints for low ones; most answers have none.
    five = np.where(kind == 0, np.clip(score // 2, 1, 5), score)
    good = strings(vocab.SURVEY_COMMENTS_GOOD)
    bad_c = strings(vocab.SURVEY_COMMENTS_BAD)
    texts = pa.concat_arrays([good, bad_c])
    pick = np.where(
        five >= 4,
        rng.integers(0, len(good), size=n),
        len(good) + rng.integers(0, len(bad_c), size=n),
    )
    comment = take(texts, np.where((rng.random(n) < 0.35) & (five != 3), pick, -1))
    return {
        "_dt": plan.clock.day_of(ts),
        "response_id": format_ids("sv", np.arange(1, n + 1), id_width(n, 6)),
        "customer_id": customer_ids.take(pa.array(customer)),
        "survey_type": strings(contract.SURVEY_TYPES).take(pa.array(kind)),
        "score": int_col(score),
        "response_ts": ts_col(ts),
        "comment": comment,
    }
