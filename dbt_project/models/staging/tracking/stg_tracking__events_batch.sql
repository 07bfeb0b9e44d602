-- The event_ids of the batch of raw events (macro batch_rows: rows loaded into raw, or moved
-- to raw_replaced, after batch_since): stg_tracking__events re-stages them.

with

batch_rows as (

    {{ batch_rows('tracking', 'events', ['event_id']) }}

),

final as (

    select distinct event_id
    from batch_rows

)

select * from final
