-- The order_ids of the batch of raw orders (macro batch_rows: rows loaded into raw, or moved
-- to raw_replaced, after batch_since): stg_shop__orders re-stages them.

with

batch_rows as (

    {{ batch_rows('shop', 'orders', ['order_id']) }}

),

final as (

    select distinct order_id
    from batch_rows

)

select * from final
