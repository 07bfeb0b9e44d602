{{ config(materialized='table') }}

-- The orders whose last-touch attribution (int_order_purchase_sessions) the batch can change:
-- the touched orders (int_batch_orders 'order': their facts), the orders any version of a batch
-- event names (int_batch_events: a purchase event added, changed or removed) and the orders
-- of the purchase events int_events_sessionized re-derived (a session id, channel or device
-- can change; a batch visitor's earlier sessions are unchanged).
-- A table: the model's rebuilt rows, its inputs and its data tests all read it.

with

touched_orders as (

    select order_id from {{ ref('int_batch_orders') }}
    where touched_by = 'order'

),

batch_event_orders as (

    select order_id from {{ ref('int_batch_events') }}

),

visitor_purchase_orders as (

    select order_id
    from {{ ref('int_batch_sessionized_events') }}
    where event_type = 'purchase'

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
    -- a --full-refresh reads no batch model: empty
        and {{ has_batch() }}

)

select * from final
