{{ config(materialized='table') }}
-- depends_on: {{ source('raw_replaced', 'events') }}

-- The orders whose last-touch attribution (int_order_purchase_sessions) the batch can change:
-- the touched orders (int_batch_orders 'order': their facts), the orders a batch event row names
-- (a purchase event added, changed or removed) and the orders of the purchase events of the
-- batch visitors (their sessions are re-derived: a session id, channel or device can change).
-- A table: the model's replace_where, its inputs and its data tests all read it.

with

touched_orders as (

    select order_id from {{ ref('int_batch_orders') }}
    where touched_by = 'order'

),

batch_event_orders as (

    {{ batch_rows('tracking', 'events', ['order_id']) }}

),

visitor_purchase_orders as (

    select order_id
    from {{ ref('int_events_sessionized') }}
    where
        event_type = 'purchase'
        and visitor_id in (
            select batch_visitors.visitor_id from {{ ref('int_batch_visitors') }} as batch_visitors
        )

),

unioned as (

    select order_id from touched_orders
    union
    select order_id from batch_event_orders
    union
    select order_id from visitor_purchase_orders

),

final as (

    select order_id
    from unioned
    where order_id is not null
    -- no batch_since: a full build, which reads no batch model (empty, not every row)
        and {{ has_batch() }}

)

select * from final
