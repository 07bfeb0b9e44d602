{{ config(materialized='table') }}

-- The visitors the batch touches: every visitor with a tracking event in the batch (see macro
-- batch_rows). Their sessions are re-derived from their whole event history.

with

batch_events as (

    {{ batch_rows('tracking', 'events', ['visitor_id']) }}

),

final as (

    select distinct visitor_id
    from batch_events
    where visitor_id is not null
    -- no batch_since: a full build, which reads no batch model (empty, not every row)
        and {{ has_batch() }}

)

select * from final
