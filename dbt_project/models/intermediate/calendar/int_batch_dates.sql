{{ config(materialized='table') }}

-- The business dates the batch touches (see macro batch_rows), computed with the models' own
-- business-date macro (to_business_date, var business_timezone). A daily mart rebuilds these
-- dates, widened by its own cross-date reads (growth columns, rolling windows: see
-- incremental_rows_filter in each daily mart). One row per date:
-- - orders: every date of every touched order (int_batch_orders, touched_by 'order'): order,
--   delivery, payment attempt and refund dates of its current rows and of its batch rows (a
--   re-delivered row's old version counts where it counted before);
-- - events: the event dates, and for sessions (dated by their first event) the
--   var('incremental_lookback_days') days before each (a session crossing midnight, or longer,
--   starts before the late event) and the day after (a late event shortly before midnight can
--   absorb a session that started after it); the order dates of orders whose purchase event
--   falls in those days (their last-touch channel and device follow the session);
-- (A visitor's first event date can move with a batch event; daily_traffic, the only model
-- counting new visitors, finds the dates whose count changed itself.)
-- - reviews (and the delivery date of the reviewed order: review_rate's cohort), surveys,
--   tickets (opening date), marketing spend, customer signups.
-- is_traffic_date marks the event dates and their session days: the marts built from events
-- and sessions alone (daily_traffic, daily_funnel, daily_ctr) rebuild only those.
-- is_activity_date marks the event dates and the touched orders' order dates (now and before):
-- int_customer_daily_activity rebuilds only those.
{%- set lookback = var('incremental_lookback_days') | int %}

with

touched_orders as (

    select order_id from {{ ref('int_batch_orders') }}
    where touched_by = 'order'

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

payments as (

    select * from {{ ref('stg_shop__payments') }}

),

refunds as (

    select * from {{ ref('stg_shop__refunds') }}

),

events as (

    select * from {{ ref('stg_tracking__events') }}

),

batch_orders as (

    {{ batch_rows('shop', 'orders', ['order_ts', 'delivered_ts']) }}

),

batch_payments as (

    {{ batch_rows('shop', 'payments', ['attempt_ts']) }}

),

batch_refunds as (

    {{ batch_rows('shop', 'refunds', ['refund_ts']) }}

),

batch_events as (

    {{ batch_rows('tracking', 'events', ['event_ts', 'event_type', 'order_id']) }}

),

batch_reviews as (

    {{ batch_rows('feedback', 'reviews', ['review_ts', 'order_id']) }}

),

batch_surveys as (

    {{ batch_rows('feedback', 'surveys', ['response_ts']) }}

),

batch_tickets as (

    {{ batch_rows('feedback', 'tickets', ['opened_ts']) }}

),

batch_spend as (

    {{ batch_rows('marketing', 'marketing_spend', ['spend_date']) }}

),

batch_customers as (

    {{ batch_rows('shop', 'customers', ['signup_ts']) }}

),

touched_order_days as (

    -- the order dates of the touched orders, now and before
    select order_date as business_date from orders
    where order_id in (select touched_orders.order_id from touched_orders)
    union
    select {{ to_business_date('order_ts') }} as business_date from batch_orders

),

order_dates as (

    select business_date from touched_order_days
    union
    select delivered_date as business_date from orders
    where order_id in (select touched_orders.order_id from touched_orders)
    union
    select attempt_date as business_date from payments
    where order_id in (select touched_orders.order_id from touched_orders)
    union
    select refund_date as business_date from refunds
    where order_id in (select touched_orders.order_id from touched_orders)
    union
    select {{ to_business_date('delivered_ts') }} as business_date from batch_orders
    union
    select {{ to_business_date('attempt_ts') }} as business_date from batch_payments
    union
    select {{ to_business_date('refund_ts') }} as business_date from batch_refunds

),

event_dates as (

    select distinct {{ to_business_date('event_ts') }} as business_date
    from batch_events

),

day_offsets as (

    {%- for offset in range(-lookback, 2) %}
    select {{ offset }} as day_offset
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

session_dates as (

    select distinct
        cast(
            {{ dbt.dateadd('day', 'day_offsets.day_offset', 'event_dates.business_date') }}
            as date
        ) as business_date
    from event_dates
    cross join day_offsets

),

attributed_orders as (

    -- a purchase event is at most a day after its session's start
    select events.order_id
    from events
    where
        events.event_type = 'purchase'
        and (
            events.event_date in (select session_dates.business_date from session_dates)
            or cast({{ dbt.dateadd('day', -1, 'events.event_date') }} as date)
            in (select session_dates.business_date from session_dates)
        )
    union
    select order_id
    from batch_events
    where event_type = 'purchase'

),

attributed_order_dates as (

    select order_date as business_date
    from orders
    where order_id in (select attributed_orders.order_id from attributed_orders)

),

feedback_dates as (

    select {{ to_business_date('review_ts') }} as business_date from batch_reviews
    union
    select orders.delivered_date as business_date
    from orders
    where orders.order_id in (select batch_reviews.order_id from batch_reviews)
    union
    select {{ to_business_date('response_ts') }} as business_date from batch_surveys
    union
    select {{ to_business_date('opened_ts') }} as business_date from batch_tickets

),

other_dates as (

    select cast(spend_date as date) as business_date from batch_spend
    union
    select {{ to_business_date('signup_ts') }} as business_date from batch_customers

),

activity_dates as (

    -- all int_customer_daily_activity reads: the event dates and the order dates of the touched
    -- orders, now and before (not their delivery, payment or refund dates)
    select business_date from event_dates
    union
    select business_date from touched_order_days

),

unioned as (

    select business_date from order_dates
    union
    select business_date from session_dates
    union
    select business_date from attributed_order_dates
    union
    select business_date from feedback_dates
    union
    select business_date from other_dates

),

final as (

    select
        business_date,
        -- the daily marts built from events and sessions alone rebuild only these
        business_date in (select session_dates.business_date from session_dates)
            as is_traffic_date,
        -- int_customer_daily_activity rebuilds only these
        business_date in (select activity_dates.business_date from activity_dates)
            as is_activity_date
    from unioned
    where business_date is not null
    -- a --full-refresh reads no batch model: empty
        and {{ has_batch() }}

)

select * from final
