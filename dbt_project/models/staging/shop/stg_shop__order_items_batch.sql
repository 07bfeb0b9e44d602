-- The order_ids of the batch of raw order lines (macro batch_rows: rows loaded into raw, or moved
-- to raw_replaced, after batch_since): stg_shop__order_items re-stages every line of these orders.

with

batch_rows as (

    {{ batch_rows('shop', 'order_items', ['order_id']) }}

),

final as (

    select distinct order_id
    from batch_rows

)

select * from final
