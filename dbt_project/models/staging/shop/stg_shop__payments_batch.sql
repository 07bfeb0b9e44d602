-- The payment_ids of the batch of raw payments (macro batch_rows: rows loaded into raw, or moved
-- to raw_replaced, after batch_since): stg_shop__payments re-stages them.

with

batch_rows as (

    {{ batch_rows('shop', 'payments', ['payment_id']) }}

),

final as (

    select distinct payment_id
    from batch_rows

)

select * from final
