{{ config(materialized='table') }}

-- Every version of the tracking events the batch touches: the batch rows (macro batch_rows:
-- loaded, or moved to raw_replaced, after batch_since) and every other delivered version of
-- their event ids. An event's position before the batch (its newest version then) is one of
-- them even when the batch only added a newer version in a later partition, so the models
-- re-derive both where the event is now and where it was (another visitor, time, order or
-- customer).

with

batch_event_ids as (

    -- from the sources (as stg_tracking__events_batch does): this model starts the
    -- sessionization chain, so it waits for no other model
    {{ batch_rows('tracking', 'events', ['event_id']) }}

),

delivered as (

    select
        event_id,
        visitor_id,
        event_ts,
        event_type,
        order_id,
        customer_id
    from {{ source('tracking', 'events') }}
    where event_id in (select batch_event_ids.event_id from batch_event_ids)

),

replaced as (

    {{ batch_rows(
        'tracking',
        'events',
        ['event_id', 'visitor_id', 'event_ts', 'event_type', 'order_id', 'customer_id']
    ) }}

),

final as (

    select * from delivered
    union
    select * from replaced

)

select * from final
-- a --full-refresh reads no batch model: empty
where {{ has_batch() }}
