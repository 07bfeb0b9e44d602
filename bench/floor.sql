-- The floor: the headline marts daily_sales and daily_traffic computed by hand, in one DuckDB
-- script, straight from the landing files. `make bench` times it next to the full build; the
-- ratio full build / floor is what the pipeline's layers, checks and orchestration cost.
--
-- Same semantics as the marts (shared/kpi-catalog.md, shared/landing-contract.md):
-- * newest version of every key wins: newest updated_ts (feeds that have one), then the latest
--   delivery partition, then the latest file (ties inside one file: arbitrary);
-- * timestamps are UTC (an offset in the file is honoured); a KPI's day is the local date in the
--   business time zone;
-- * a session is a visitor's run of events with gaps of at most the session timeout; its day is
--   the day of its first event; bounce = exactly one page_view and no event other than page_view
--   and impression.
-- It does no quarantine: the generated sample has no invalid rows (the bench checks the floor's
-- numbers against the marts, so a difference would show).
--
-- Placeholders, filled in by bench/harness.py: {landing} (absolute landing root),
-- {business_timezone}, {session_timeout_minutes} (dbt vars). File formats are the sample's
-- export formats (orchestration/sample/writer.py FORMATS).

set timezone = 'UTC';

-- ---------------------------------------------------------------- landing files, newest wins

create or replace temp table orders as
select order_id, customer_id, order_ts, discount_amount, shipping_fee
from (
    select
        order_id,
        customer_id,
        cast(order_ts as timestamp) as order_ts,
        coalesce(discount_amount, 0) as discount_amount,
        coalesce(shipping_fee, 0) as shipping_fee,
        row_number() over (
            partition by order_id
            order by updated_ts desc nulls last, regexp_extract(filename, 'dt=([0-9-]+)', 1) desc,
                filename desc
        ) as version_rank
    from read_csv(
        '{landing}/orders/dt=*/*.csv',
        header = true,
        filename = true,
        columns = {
            'order_id': 'VARCHAR', 'customer_id': 'VARCHAR', 'order_ts': 'TIMESTAMPTZ',
            'platform': 'VARCHAR', 'status': 'VARCHAR', 'coupon_code': 'VARCHAR',
            'discount_amount': 'DECIMAL(18,2)', 'shipping_fee': 'DECIMAL(18,2)',
            'promised_delivery_date': 'DATE', 'shipped_ts': 'TIMESTAMPTZ',
            'delivered_ts': 'TIMESTAMPTZ', 'cancelled_ts': 'TIMESTAMPTZ',
            'updated_ts': 'TIMESTAMPTZ'
        }
    )
)
where version_rank = 1;

create or replace temp table items_per_order as
select order_id, sum(quantity) as units, sum(quantity * unit_price) as merchandise_value
from (
    select
        order_id,
        quantity,
        unit_price,
        row_number() over (
            partition by order_id, line_number
            order by regexp_extract(filename, 'dt=([0-9-]+)', 1) desc, filename desc
        ) as version_rank
    from read_csv(
        '{landing}/order_items/dt=*/*.csv.gz',
        header = true,
        filename = true,
        columns = {
            'order_id': 'VARCHAR', 'line_number': 'INTEGER', 'product_id': 'VARCHAR',
            'quantity': 'INTEGER', 'unit_price': 'DECIMAL(18,2)'
        }
    )
)
where version_rank = 1
group by order_id;

create or replace temp table paid_order_ids as
select distinct order_id
from (
    select
        order_id,
        status,
        row_number() over (
            partition by payment_id
            order by regexp_extract(filename, 'dt=([0-9-]+)', 1) desc, filename desc
        ) as version_rank
    from read_parquet('{landing}/payments/dt=*/*.parquet', filename = true)
)
where version_rank = 1 and status = 'success';

create or replace temp table refunds_daily as
select
    cast(timezone('{business_timezone}', timezone('UTC', refund_ts)) as date) as business_date,
    sum(amount) as refunds
from (
    select
        cast(refund_ts as timestamp) as refund_ts,
        amount,
        row_number() over (
            partition by refund_id
            order by regexp_extract(filename, 'dt=([0-9-]+)', 1) desc, filename desc
        ) as version_rank
    from read_csv(
        '{landing}/refunds/dt=*/*.csv',
        header = true,
        filename = true,
        columns = {
            'refund_id': 'VARCHAR', 'order_id': 'VARCHAR', 'refund_ts': 'TIMESTAMPTZ',
            'amount': 'DECIMAL(18,2)', 'reason': 'VARCHAR', 'is_return': 'BOOLEAN'
        }
    )
)
where version_rank = 1
group by 1;

-- Events: Parquet, plus the tracking vendor's early JSON exports.
create or replace temp table events as
select
    visitor_id,
    event_id,
    event_ts,
    event_type,
    cast(timezone('{business_timezone}', timezone('UTC', event_ts)) as date) as event_date
from (
    select
        *,
        row_number() over (
            partition by event_id
            order by regexp_extract(filename, 'dt=([0-9-]+)', 1) desc, filename desc
        ) as version_rank
    from (
        select event_id, cast(event_ts as timestamp) as event_ts, visitor_id, event_type, filename
        from read_parquet('{landing}/events/dt=*/*.parquet', filename = true)
        union all
        select event_id, cast(event_ts as timestamp) as event_ts, visitor_id, event_type, filename
        from read_json(
            '{landing}/events/dt=*/*.jsonl.gz',
            format = 'newline_delimited',
            filename = true,
            columns = {
                'event_id': 'VARCHAR', 'event_ts': 'TIMESTAMPTZ', 'visitor_id': 'VARCHAR',
                'event_type': 'VARCHAR'
            }
        )
    )
)
where version_rank = 1;

-- ---------------------------------------------------------------- sessions

create or replace temp table sessions as
with flagged as (
    select
        visitor_id,
        event_id,
        event_ts,
        event_type,
        case
            when
                event_ts <= lag(event_ts) over visitor_events
                + interval ({session_timeout_minutes}) minute
                then 0
            else 1
        end as is_session_start
    from events
    window visitor_events as (partition by visitor_id order by event_ts, event_id)
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by visitor_id order by event_ts, event_id rows unbounded preceding
        ) as session_number
    from flagged
)

select
    visitor_id,
    session_number,
    cast(
        timezone('{business_timezone}', timezone('UTC', min(event_ts))) as date
    ) as business_date,
    cast(
        timezone('{business_timezone}', timezone('UTC', max(event_ts))) as date
    ) as last_date,
    count(*) filter (where event_type = 'page_view') = 1
    and count(*) filter (where event_type not in ('page_view', 'impression')) = 0 as is_bounce,
    bool_or(event_type = 'purchase') as has_purchase
from numbered
group by visitor_id, session_number;

-- ---------------------------------------------------------------- the two marts

create or replace temp table order_facts as
select
    cast(timezone('{business_timezone}', timezone('UTC', orders.order_ts)) as date) as order_date,
    orders.customer_id,
    coalesce(items.units, 0) as units,
    coalesce(items.merchandise_value, 0) as merchandise_value,
    coalesce(items.merchandise_value, 0) - orders.discount_amount + orders.shipping_fee
        as order_value,
    paid.order_id is not null as is_paid
from orders
left join items_per_order as items on orders.order_id = items.order_id
left join paid_order_ids as paid on orders.order_id = paid.order_id;

create or replace temp table spine as
select cast(range as date) as business_date
from range(
    (
        select cast(least(min(business_date), (select min(order_date) from order_facts)) as timestamp)
        from sessions
    ),
    (
        select
            cast(greatest(max(last_date), (select max(order_date) from order_facts)) as timestamp)
            + interval 1 day
        from sessions
    ),
    interval 1 day
);

create or replace table floor_daily_sales as
with orders_daily as (
    select
        order_date as business_date,
        count(*) as orders_placed,
        sum(merchandise_value) as gmv,
        count(*) filter (where is_paid) as paid_orders,
        sum(order_value) filter (where is_paid) as paid_revenue,
        sum(units) filter (where is_paid) as units_sold,
        count(distinct customer_id) filter (where is_paid) as buyers
    from order_facts
    group by order_date
)

select
    spine.business_date,
    coalesce(o.orders_placed, 0) as orders_placed,
    cast(coalesce(o.gmv, 0) as decimal(18, 2)) as gmv,
    coalesce(o.paid_orders, 0) as paid_orders,
    cast(coalesce(o.paid_revenue, 0) as decimal(18, 2)) as paid_revenue,
    coalesce(o.units_sold, 0) as units_sold,
    coalesce(o.buyers, 0) as buyers,
    cast(coalesce(r.refunds, 0) as decimal(18, 2)) as refunds
from spine
left join orders_daily as o on spine.business_date = o.business_date
left join refunds_daily as r on spine.business_date = r.business_date
order by 1;

create or replace table floor_daily_traffic as
with events_daily as (
    select
        event_date as business_date,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(distinct visitor_id) as unique_visitors
    from events
    group by event_date
),

sessions_daily as (
    select
        business_date,
        count(*) as sessions,
        count(*) filter (where is_bounce) as bounced_sessions,
        count(*) filter (where has_purchase) as converted_sessions
    from sessions
    group by business_date
)

select
    spine.business_date,
    coalesce(e.page_views, 0) as page_views,
    coalesce(e.unique_visitors, 0) as unique_visitors,
    coalesce(s.sessions, 0) as sessions,
    coalesce(s.bounced_sessions, 0) as bounced_sessions,
    coalesce(s.converted_sessions, 0) as converted_sessions
from spine
left join events_daily as e on spine.business_date = e.business_date
left join sessions_daily as s on spine.business_date = s.business_date
order by 1;
