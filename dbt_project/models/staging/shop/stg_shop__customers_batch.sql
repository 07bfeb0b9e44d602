-- The customer_ids of the batch of raw customers (macro batch_rows: rows loaded into raw, or moved
-- to raw_replaced, after batch_since): stg_shop__customers re-stages them.

with

batch_rows as (

    {{ batch_rows('shop', 'customers', ['customer_id']) }}

),

final as (

    select distinct customer_id
    from batch_rows

)

select * from final
