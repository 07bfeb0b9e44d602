{{ config(materialized='table') }}

-- The events int_events_sessionized re-derives in a batch build, with their session: each
-- batch visitor's events from their resessionize_from on (int_batch_visitors: the session a
-- batch event joins, or the new one it starts). The first re-derived event always starts a
-- session; int_batch_visitors carries what it needs from before (the number of sessions
-- before it, the gap to the previous event). A table of its own (~120 k rows for an SF1 day):
-- int_events_sessionized, int_sessions, int_purchase_events and int_batch_attributed_orders
-- read the re-derived rows here instead of finding them again among all events (a join on
-- visitor_id over the whole events table, ~0.3-0.8 s each at SF1). Empty on a full build.

with

events as (

    select * from {{ ref('stg_tracking__events') }}
    -- the staged table is roughly in load order: its zone maps skip most row groups
    where
        event_ts >= (
            select min(batch_visitors.resessionize_from)
            from {{ ref('int_batch_visitors') }} as batch_visitors
        )

),

to_sessionize as (

    select
        events.*,
        batch_visitors.sessions_before,
        batch_visitors.previous_event_ts as window_previous_event_ts,
        batch_visitors.first_event_gap_s
    from events
    inner join {{ ref('int_batch_visitors') }} as batch_visitors
        on
            events.visitor_id = batch_visitors.visitor_id
            and events.event_ts >= batch_visitors.resessionize_from
    -- a --full-refresh reads no batch model: empty
    where {{ has_batch() }}

),

{{ sessionize_events(batch_build=true) }}

select * from final
