"""Simulate a delivery batch directly in the raw tables of a built warehouse (tests, measurements).

What the partitioned ingest does on a re-delivered or late partition, for one business day D:
the orders partition dt=D is re-delivered (its rows move to raw_replaced.orders, the new versions
are inserted; one paid order is now cancelled), a late refund and a late successful payment, late
tracking events around midnight (one moves a session's start to before it, a new visitor's
session crosses midnight, a visitor first seen days later gets an event on D), a late event in
the middle of a visitor's history (a new session, later ones renumbered), an event moved to
another visitor and one re-delivered two hours later by a later partition, one purchase event
removed by a re-delivery, a late review of a delivered order and a late customer signup.
Every new row gets `_loaded_at = stamp`, every moved row `_replaced_at = stamp`, so a build with
`batch_since` before the stamp sees exactly these.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")  # dbt var business_timezone (default)
LOAD_ID = "sim-batch"


def utc_of_local(day: date, at: time) -> datetime:
    """Naive UTC timestamp of a local wall-clock time in the business timezone."""
    local = datetime.combine(day, at, tzinfo=BUSINESS_TZ)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def move_to_replaced(conn: duckdb.DuckDBPyConnection, table: str, where: str, stamp: datetime):
    conn.execute(
        f"insert into raw_replaced.{table} select *, timestamp '{stamp}', '{LOAD_ID}' "
        f"from raw.{table} where {where}"
    )
    conn.execute(f"delete from raw.{table} where {where}")


def simulate_batch(
    conn: duckdb.DuckDBPyConnection, day: date, stamp: datetime, tag: str = "1"
) -> dict[str, int]:
    """Apply the batch of business day `day`; returns how many rows each change touched.

    New rows get ids `sim-<kind>-<tag>...`: a second batch on the same warehouse needs another tag.
    """
    done: dict[str, int] = {}
    day_start, day_end = utc_of_local(day, time(0)), utc_of_local(day + timedelta(1), time(0))
    in_day = f"between timestamp '{day_start}' and timestamp '{day_end}' - interval 1 second"

    # 1. the orders partition holding the day's orders is re-delivered; one paid order cancelled
    dt = conn.execute(
        f"select _partition_dt from raw.orders where order_ts {in_day} "
        "group by 1 order by count(*) desc limit 1"
    ).fetchone()[0]
    conn.execute(
        f"create temp table redelivered as select * from raw.orders where _partition_dt = '{dt}'"
    )
    move_to_replaced(conn, "orders", f"_partition_dt = '{dt}'", stamp)
    cancel = conn.execute(
        "select order_id from redelivered where order_id in "
        "(select order_id from raw.payments where status = 'success') "
        "and status <> 'cancelled' order by order_id limit 1"
    ).fetchone()
    cancel_id = cancel[0] if cancel else ""
    conn.execute(
        f"""
        insert into raw.orders
        select * replace (
            case when order_id = '{cancel_id}' then 'cancelled' else status end as status,
            case when order_id = '{cancel_id}' then order_ts + interval 2 hour
                else cancelled_ts end as cancelled_ts,
            timestamp '{stamp}' as _loaded_at, '{LOAD_ID}' as _load_id
        )
        from redelivered
        """
    )
    conn.execute("drop table redelivered")
    done["orders_redelivered"] = conn.execute(
        f"select count(*) from raw.orders where _load_id = '{LOAD_ID}'"
    ).fetchone()[0]

    # 2. a late refund (and 3. a late successful payment) for orders of the day
    _insert_copy(
        conn,
        "refunds",
        "true",
        {
            "refund_id": f"'sim-refund-{tag}'",
            "order_id": f"(select order_id from raw.orders where order_ts {in_day} "
            "and status = 'delivered' order by order_id limit 1)",
            "refund_ts": f"timestamp '{utc_of_local(day, time(15))}'",
            "amount": "cast(1.50 as decimal(18, 2))",
        },
        stamp,
        day,
    )
    done["late_refund"] = 1
    unpaid = conn.execute(
        f"select order_id, order_ts from raw.orders where order_ts {in_day} and order_id not in "
        "(select order_id from raw.payments where status = 'success') order by order_id limit 1"
    ).fetchone()
    if unpaid:
        _insert_copy(
            conn,
            "payments",
            "status = 'success'",
            {
                "payment_id": f"'sim-payment-{tag}'",
                "order_id": f"'{unpaid[0]}'",
                "attempt_ts": f"timestamp '{unpaid[1] + timedelta(minutes=30)}'",
            },
            stamp,
            day,
        )
    done["late_payment"] = 1 if unpaid else 0

    # 4. late events: one just before the day's earliest session start (that session now
    # starts earlier, perhaps the day before), a new visitor's session across midnight
    first = conn.execute(
        f"select visitor_id, min(event_ts) from raw.events where event_ts {in_day} "
        "group by visitor_id order by 2 limit 1"
    ).fetchone()
    _insert_home_page_view(
        conn, first[0], f"sim-event-{tag}-1", first[1] - timedelta(minutes=12), stamp, day
    )
    for n, at in enumerate((time(23, 50), time(23, 58)), start=2):
        _insert_copy(
            conn,
            "events",
            "event_type = 'page_view'",
            {
                "event_id": f"'sim-event-{tag}-{n}'",
                "visitor_id": f"'sim-visitor-{tag}'",
                "customer_id": "cast(null as varchar)",
                "event_ts": f"timestamp '{utc_of_local(day, at)}'",
            },
            stamp,
            day,
        )
    _insert_copy(
        conn,
        "events",
        "event_type = 'add_to_cart'",
        {
            "event_id": f"'sim-event-{tag}-4'",
            "visitor_id": f"'sim-visitor-{tag}'",
            "customer_id": "cast(null as varchar)",
            "event_ts": f"timestamp '{utc_of_local(day + timedelta(1), time(0, 10))}'",
        },
        stamp,
        day,
    )
    # 4b. a late event of a visitor first seen days later moves their first event date to the
    # day: the day they were first seen (no batch date) loses a new visitor
    later = conn.execute(
        "select visitor_id from raw.events group by visitor_id having min(event_ts) >= "
        f"timestamp '{utc_of_local(day + timedelta(5), time(0))}' order by visitor_id limit 1"
    ).fetchone()
    if later:
        _insert_home_page_view(
            conn, later[0], f"sim-event-{tag}-5", utc_of_local(day, time(12)), stamp, day
        )
    done["first_seen_moved"] = 1 if later else 0

    # 4c. a late event in the middle of a returning visitor's history, days before the day, far
    # from their other events: a new session there renumbers every later session of the visitor
    gap = conn.execute(
        f"""
        select visitor_id, previous_ts + (event_ts - previous_ts) / 2
        from (
            select visitor_id, event_ts, lag(event_ts) over (
                partition by visitor_id order by event_ts, event_id
            ) as previous_ts
            from raw.events
            where visitor_id in (select visitor_id from raw.events where event_ts {in_day})
        )
        where event_ts < timestamp '{day_start}' - interval 2 day
            and event_ts - previous_ts > interval 3 hour
        order by visitor_id, event_ts
        limit 1
        """
    ).fetchone()
    if gap:
        _insert_home_page_view(conn, gap[0], f"sim-event-{tag}-6", gap[1], stamp, day)
    done["session_inserted_mid_history"] = 1 if gap else 0

    # 4d. a re-delivery moves one of the day's events to another visitor (the old visitor's
    # session loses it), and a later partition re-delivers an older event two hours later (its
    # old version stays in raw, in its own partition: the newer partition wins)
    moved = conn.execute(
        f"select event_id from raw.events where event_type = 'page_view' and event_ts {in_day} "
        "and event_id not like 'sim-%' "
        "order by event_id desc limit 1"
    ).fetchone()
    if moved:
        move_to_replaced(conn, "events", f"event_id = '{moved[0]}'", stamp)
        conn.execute(
            f"""
            insert into raw.events
            select * exclude (_replaced_at, _replaced_by) replace (
                'sim-visitor-{tag}-moved' as visitor_id,
                timestamp '{stamp}' as _loaded_at, '{LOAD_ID}' as _load_id
            )
            from raw_replaced.events where event_id = '{moved[0]}'
            """
        )
    done["event_moved_to_visitor"] = 1 if moved else 0
    older = conn.execute(
        "select event_id from raw.events "
        f"where event_ts < timestamp '{day_start}' - interval 3 day "
        "and event_type = 'page_view' and event_id not like 'sim-%' "
        "order by event_id limit 1"
    ).fetchone()
    if older:
        _insert_copy(
            conn,
            "events",
            f"event_id = '{older[0]}'",
            {"event_ts": "event_ts + interval 2 hour"},
            stamp,
            day,
        )
    done["event_redelivered_later"] = 1 if older else 0

    # 5. a re-delivered events partition no longer holds one of the day's purchase events
    purchase = conn.execute(
        f"select event_id from raw.events where event_type = 'purchase' and event_ts {in_day} "
        "order by event_id limit 1"
    ).fetchone()
    if purchase:
        move_to_replaced(conn, "events", f"event_id = '{purchase[0]}'", stamp)
    done["events_removed"] = 1 if purchase else 0

    # 6. a late review of a delivered order, 7. a late signup
    _insert_copy(
        conn,
        "reviews",
        "true",
        {
            "review_id": f"'sim-review-{tag}'",
            "order_id": "(select order_id from raw.orders where delivered_ts is not null "
            "and order_id not in (select order_id from raw.reviews where order_id is not null) "
            "order by order_id limit 1)",
            "rating": "2",
            "review_ts": f"timestamp '{utc_of_local(day, time(20))}'",
        },
        stamp,
        day,
    )
    _insert_copy(
        conn,
        "customers",
        "true",
        {
            "customer_id": f"'sim-customer-{tag}'",
            "signup_ts": f"timestamp '{utc_of_local(day, time(9))}'",
            "referrer_customer_id": "cast(null as varchar)",
        },
        stamp,
        day,
    )
    return done


def _insert_home_page_view(
    conn: duckdb.DuckDBPyConnection,
    visitor_id: str,
    event_id: str,
    event_ts: datetime,
    stamp: datetime,
    day: date,
) -> None:
    """A late home page view of `visitor_id` at `event_ts`: a copy of one of their raw events."""
    _insert_copy(
        conn,
        "events",
        f"visitor_id = '{visitor_id}'",
        {
            "event_id": f"'{event_id}'",
            "event_ts": f"timestamp '{event_ts}'",
            "event_type": "'page_view'",
            "page_type": "'home'",
        },
        stamp,
        day,
    )


def _insert_copy(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    where: str,
    values: dict[str, str],
    stamp: datetime,
    day: date,
) -> None:
    """Insert a copy of one existing raw row with `values` replaced and new lineage."""
    replace = {
        **values,
        "_loaded_at": f"timestamp '{stamp}'",
        "_load_id": f"'{LOAD_ID}'",
        "_partition_dt": f"date '{day}'",
        "_source_file": f"'sim/dt={day}/{table}.csv'",
    }
    exprs = ", ".join(f"{expr} as {column}" for column, expr in replace.items())
    conn.execute(
        f"insert into raw.{table} select * replace ({exprs}) from raw.{table} where {where} limit 1"
    )
