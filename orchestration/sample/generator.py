"""Generate the sample landing zone: all feeds of the contract plus `_manifest.json`.

The manifest records the parameters, the rows and files written per feed, and the planted facts
the marts must recover (experiment effect, anomaly days, the lift campaign, and those of
orchestration.sample.plants).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from orchestration import contract
from orchestration.sample import commerce, feedback, marketing, plants, traffic
from orchestration.sample.core import Clock, ts_col
from orchestration.sample.events import make_context, write_events
from orchestration.sample.feedback import TK_DELIVERY, TK_QUALITY
from orchestration.sample.plan import EXPERIMENT_EFFECT, Plan, make_plan
from orchestration.sample.writer import Tally, write_feed

MANIFEST = "_manifest.json"
GENERATOR_VERSION = 1
LIFT_KPIS = ("sessions", "orders_placed", "gmv", "paid_orders", "new_customers")


def clean(out_dir: Path) -> None:
    """Remove what a previous run wrote: the feed folders and the manifest, nothing else."""
    for feed in contract.FEEDS:  # 13 feed folders
        shutil.rmtree(out_dir / feed, ignore_errors=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)


def _assignments_table(
    plan: Plan, vis: traffic.Visitors, sess: traffic.Sessions, visitor_ids: pa.Array
) -> dict:
    per_exp = traffic.assignments(plan, vis, sess)
    names = sorted(per_exp)
    exp = np.concatenate([np.full(len(per_exp[n][0]), i) for i, n in enumerate(names)])
    visitor = np.concatenate([per_exp[n][0] for n in names])
    variant = np.concatenate([per_exp[n][1] for n in names]).astype(np.int64)
    ts = np.concatenate([per_exp[n][2] for n in names])
    return {
        "_dt": plan.clock.day_of(ts),
        "experiment_id": pa.array(names, type=pa.string()).take(pa.array(exp)),
        "visitor_id": visitor_ids.take(pa.array(visitor)),
        "variant": pa.array(["control", "treatment"]).take(pa.array(variant)),
        "assigned_ts": ts_col(ts),
    }


def _planted(plan: Plan, camps: marketing.Campaigns) -> dict:
    clock = plan.clock
    lift = None
    if plan.lift is not None:
        w = plan.lift
        lift = {
            "campaign_id": camps.ids[camps.lift].as_py(),
            "start_date": clock.iso(w.first),
            "end_date": clock.iso(w.last),
            "baseline_start_date": clock.iso(w.first - w.length),
            "baseline_end_date": clock.iso(w.first - 1),
            "kpis": list(LIFT_KPIS),
        }
    return {
        "experiments": {
            name: {
                "has_effect": name == EXPERIMENT_EFFECT,
                "start_date": clock.iso(w.first),
                "end_date": clock.iso(w.last),
                "variants": ["control", "treatment"],
            }
            for name, w in plan.experiments.items()
        },
        "anomalies": [
            {
                "date": clock.iso(a.day),
                "kind": a.kind,
                "kpis": list(a.kpis),
                "also_moves": list(a.also),
            }
            for a in plan.anomalies
        ],
        "campaign_lift": lift,
    }


def generate(
    out_dir: Path, scale: float, seed: int, days: int = 365, start: date = date(2025, 1, 1)
) -> dict:
    """Write the sample landing zone into out_dir and return its manifest."""
    if scale <= 0 or days < 1 or seed < 0:
        raise ValueError("scale must be > 0, days >= 1 and seed >= 0")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clock = Clock(start, days)
    plan = make_plan(seed, scale, clock)
    camps = marketing.plan_campaigns(plan)
    vis = traffic.make_visitors(plan)
    stop = plants.churn_days(plan, vis)
    sess = traffic.make_sessions(plan, vis, camps, stop)
    cust = commerce.make_customers(plan, vis, sess)
    stop = np.where(cust.visitor >= 0, stop[np.maximum(cust.visitor, 0)], days)
    prods = commerce.make_products(plan)
    products = plants.product_plan(plan, prods)
    orders = commerce.make_orders(plan, sess, vis, cust, prods, stop)
    pay = commerce.make_payments(plan, orders)
    orders = plants.sell_on_schedule(plan, orders, pay, prods, products)
    ful = commerce.make_fulfilment(plan, orders, pay)
    browsed = plants.without_launches(prods, products)
    ctx = make_context(clock, vis, sess, cust, orders, browsed, camps)
    customer_ids = ctx.customer_ids
    churn = plants.churn_signals(plan, orders, pay, ful, stop)
    spike = plants.spike_tickets(plan, orders, pay, ful)
    planted_tickets = (
        np.concatenate([spike[0], churn.ticket_order]),
        np.concatenate(
            [np.full(len(spike[0]), TK_QUALITY), np.full(len(churn.ticket_order), TK_DELIVERY)]
        ),
        np.concatenate([spike[1], churn.ticket_ts]),
    )

    tally = Tally()
    write_feed(out, "customers", clock, commerce.customers_table(plan, cust), tally)
    launch_day = plants.launch_dates(plan, prods, products)
    write_feed(out, "products", clock, commerce.products_table(plan, prods, launch_day), tally)
    write_feed(out, "orders", clock, commerce.orders_table(plan, orders, ful, customer_ids), tally)
    write_feed(
        out, "order_items", clock, commerce.order_items_table(orders, ctx.product_ids), tally
    )
    write_feed(out, "payments", clock, commerce.payments_table(plan, pay, orders), tally)
    write_feed(out, "refunds", clock, commerce.refunds_table(plan, orders, ful), tally)
    tickets, facts = feedback.tickets_table(
        plan, orders, pay, ful, cust, customer_ids, planted_tickets
    )
    write_feed(out, "tickets", clock, tickets, tally)
    surveys = feedback.surveys_table(plan, orders, ful, cust, facts, customer_ids)
    write_feed(out, "surveys", clock, surveys, tally)
    reviews = feedback.reviews_table(
        plan, orders, ful, customer_ids, ctx.product_ids, (churn.review_order, churn.review_ts)
    )
    write_feed(out, "reviews", clock, reviews, tally)
    assignments = _assignments_table(plan, vis, sess, ctx.visitor_ids)
    write_feed(out, "experiment_assignments", clock, assignments, tally)
    order_campaign = np.where(orders.session >= 0, sess.campaign[np.maximum(orders.session, 0)], -1)
    spend, total = marketing.spend_table(
        plan, camps, sess.day, sess.campaign, orders.day, order_campaign, orders.value
    )
    write_feed(out, "marketing_spend", clock, spend, tally)
    write_feed(out, "campaigns", clock, marketing.campaigns_table(plan, camps, total), tally)
    write_events(out, ctx, seed, tally)

    manifest = {
        "generator": {"name": "orchestration.sample", "version": GENERATOR_VERSION},
        "seed": seed,
        "scale": scale,
        "days": days,
        "start": start.isoformat(),
        "end": clock.iso(days - 1),
        "business_timezone": "Asia/Shanghai",
        "rows": {f: tally.rows.get(f, 0) for f in contract.FEEDS},
        "files": {f: tally.files.get(f, 0) for f in contract.FEEDS},
        "planted": {
            **_planted(plan, camps),
            **plants.manifest(
                plan,
                orders,
                pay,
                products,
                ctx.product_ids.to_pylist(),
                customer_ids.take(pa.array(churn.customers)).to_pylist(),
            ),
        },
        "stats": {
            "sessions": len(sess),
            "visitors": len(np.unique(sess.visitor)),
            "customers": len(cust),
            "orders": len(orders),
            "purchase_sessions": int(sess.purchase.sum()),
            "products": len(prods),
            "campaigns": len(camps),
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n")
    return manifest
