{{ config(**incremental_config(rebuilds="
    business_date in (select business_date from {{ ref('int_batch_dates') }} where is_activity_date)
")) }}
-- depends_on: {{ ref('int_batch_dates') }}
{%- set batch_activity_dates = "select business_date from " ~ ref('int_batch_dates')
    ~ " where is_activity_date" %}

-- Customer activity per business day: one row per (customer_id, business_date) on which the
-- customer had a logged-in event (an event carrying the customer_id, on the event's business
-- date) or placed an order (any status, on the order's business date). Anonymous events of a
-- visitor before they sign up or log in carry no customer_id and do not count. The base of
-- dau / wau / mau and of the signup-cohort retention.
-- Incremental: a day's rows depend on that day's events and orders only; a batch build
-- re-derives the activity dates of int_batch_dates (is_activity_date: the dates of every batch
-- event and the order dates of every touched order, now and before), not the dates a delivery,
-- payment, refund, review or signup touches.

with

events as (

    select * from {{ ref('stg_tracking__events') }}
    {%- if is_incremental() %}
    where event_date in ({{ batch_activity_dates }})
    {%- endif %}

),

orders as (

    select * from {{ ref('int_order_facts') }}
    {%- if is_incremental() %}
    where order_date in ({{ batch_activity_dates }})
    {%- endif %}

),

event_days as (

    select
        customer_id,
        event_date as business_date,
        count(*) as logged_in_events,
        0 as orders,
        0 as paid_orders
    from events
    where customer_id is not null
    group by customer_id, event_date

),

order_days as (

    select
        customer_id,
        order_date as business_date,
        0 as logged_in_events,
        count(*) as orders,
        sum(case when is_paid then 1 else 0 end) as paid_orders
    from orders
    group by customer_id, order_date

),

unioned as (

    select * from event_days
    union all
    select * from order_days

),

aggregated as (

    select
        customer_id,
        business_date,
        sum(logged_in_events) as logged_in_events,
        sum(orders) as orders,
        sum(paid_orders) as paid_orders
    from unioned
    group by customer_id, business_date

),

final as (

    select
        customer_id,
        business_date,
        cast(logged_in_events as {{ dbt.type_bigint() }}) as logged_in_events,
        cast(orders as {{ dbt.type_bigint() }}) as orders,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        logged_in_events > 0 as has_logged_in_event,
        orders > 0 as has_order,
        paid_orders > 0 as has_paid_order
    from aggregated

)

select * from final
