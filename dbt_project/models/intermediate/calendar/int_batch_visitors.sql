{{ config(materialized='table') }}

-- The visitors the batch touches, each with the point from which their sessions are re-derived.
-- A batch event (added, changed or removed) can only change the sessions from the one it
-- falls in onwards: an event's session, number and sequence depend on the visitor's earlier
-- events only. So the visitor's events before their first touched event keep their rows, and
-- int_events_sessionized / int_sessions re-derive the rest, from resessionize_from:
-- - the first touched event, when it is more than the session timeout after the visitor's
--   previous event (it starts a new session);
-- - else the start of the session it joins (that session grows, or merges with later ones).
-- The touched events are every version of a batch event (int_batch_events), so both where an
-- event is now and where it was before (another visitor, another time) are re-derived.
-- The sessions before the batch are read from int_events_sessionized as the last build left it
-- (this model runs before it; a ref() would be a cycle): see macro previous_build_relation.
{%- set sessionized = previous_build_relation('int_events_sessionized') %}
{%- set timeout = var('session_timeout_minutes') %}

with

touched_events as (

    select * from {{ ref('int_batch_events') }}

),

first_touched as (

    select
        visitor_id,
        min(event_ts) as first_touched_ts
    from touched_events
    where visitor_id is not null
    group by visitor_id

),

before_batch as (

    -- per visitor, their sessionized events before the first touched one (unchanged)
    {%- if sessionized %}
    select
        first_touched.visitor_id,
        max(sessionized.event_ts) as last_event_ts,
        max(sessionized.visitor_session_number) as last_session_number,
        max(
            case when sessionized.is_session_start then sessionized.event_ts end
        ) as last_session_start_ts,
        -- the gap of that session's first event (NULL for the visitor's first event: kept)
        arg_max_null(
            sessionized.seconds_since_previous_event,
            case when sessionized.is_session_start then sessionized.event_ts end
        ) as last_session_start_gap_s
    from first_touched
    inner join {{ sessionized }} as sessionized
        on
            first_touched.visitor_id = sessionized.visitor_id
            and first_touched.first_touched_ts > sessionized.event_ts
    group by first_touched.visitor_id
    {%- else %}
    -- no sessionized events yet: every touched visitor starts from their first event
    select
        cast(null as {{ dbt.type_string() }}) as visitor_id,
        cast(null as {{ dbt.type_timestamp() }}) as last_event_ts,
        cast(null as {{ dbt.type_bigint() }}) as last_session_number,
        cast(null as {{ dbt.type_timestamp() }}) as last_session_start_ts,
        cast(null as double) as last_session_start_gap_s
    where false
    {%- endif %}

),

placed as (

    select
        first_touched.visitor_id,
        first_touched.first_touched_ts,
        before_batch.last_event_ts,
        before_batch.last_session_number,
        before_batch.last_session_start_ts,
        before_batch.last_session_start_gap_s,
        before_batch.last_event_ts is not null
        and first_touched.first_touched_ts <= {{ dbt.dateadd(
            'minute', timeout, 'before_batch.last_event_ts'
        ) }} as joins_last_session
    from first_touched
    left join before_batch
        on first_touched.visitor_id = before_batch.visitor_id

),

final as (

    select
        visitor_id,
        case
            when joins_last_session then last_session_start_ts else first_touched_ts
        end as resessionize_from,
        case
            when joins_last_session then last_session_number - 1
            else coalesce(last_session_number, 0)
        end as sessions_before,
        case when not joins_last_session then last_event_ts end as previous_event_ts,
        case when joins_last_session then last_session_start_gap_s end as first_event_gap_s
    from placed
    -- no batch_since: a full build, which reads no batch model (empty, not every row)
    where {{ has_batch() }}

)

select * from final
