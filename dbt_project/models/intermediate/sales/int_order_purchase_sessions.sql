{#- The orders whose attribution a batch can change: int_batch_attributed_orders. -#}
{{ config(**incremental_config(
    rebuilds="order_id in (select order_id from {{ ref('int_batch_attributed_orders') }})"
)) }}
-- depends_on: {{ ref('int_batch_attributed_orders') }}

-- One row per order (every order, any status) with the tracked session that holds its purchase
-- event: last-touch attribution (kpi-catalog section 5: an order belongs to the channel and
-- campaign of the session holding its purchase event). When an order has several purchase
-- events the first one (event_ts, then event_id) wins. Orders without a tracked purchase event
-- (marketplace orders, untracked checkouts) get channel and device 'unattributed', so that the
-- channel and device marts add up to daily_sales.
-- A table read by three marts and seven data tests (it was a view over every purchase event and
-- session); incremental: a batch build re-derives the orders of int_batch_attributed_orders.

with

orders as (

    select * from {{ ref('int_order_facts') }}
    {%- if is_incremental() %}
    where
        order_id in (
            select batch_orders.order_id
            from {{ ref('int_batch_attributed_orders') }} as batch_orders
        )
    {%- endif %}

),

events as (

    select * from {{ ref('int_purchase_events') }}
    {%- if is_incremental() %}
    where order_id in (select orders.order_id from orders)
    {%- endif %}

),

sessions as (

    select * from {{ ref('int_sessions') }}
    {%- if is_incremental() %}
    where session_id in (select events.session_id from events)
    {%- endif %}

),

purchase_events as (

    select
        order_id,
        session_id,
        event_id as purchase_event_id,
        event_ts as purchase_event_ts,
        row_number() over (
            partition by order_id
            order by event_ts, event_id
        ) as purchase_rank
    from events
    where order_id is not null

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.is_paid,
        orders.order_value,
        purchase_events.purchase_event_id is not null as is_attributed,
        purchase_events.purchase_event_id,
        purchase_events.purchase_event_ts,
        purchase_events.session_id,
        sessions.business_date as session_date,
        coalesce(sessions.channel, 'unattributed') as channel,
        coalesce(sessions.device, 'unattributed') as device,
        sessions.utm_campaign
    from orders
    left join purchase_events
        on
            orders.order_id = purchase_events.order_id
            and purchase_events.purchase_rank = 1
    left join sessions
        on purchase_events.session_id = sessions.session_id

)

select * from final
