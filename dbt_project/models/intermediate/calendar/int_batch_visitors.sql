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
-- The sessions before the batch are read from int_sessions as the last build left it, in this
-- model's schema (this model runs before it: a ref() would be a cycle). When the touched event
-- starts a new session, the visitor's last event before it ends their last session; when it
-- joins that session, the session's first event keeps its gap to the end of the session before
-- (as int_events_sessionized computed it).
{%- set sessions = adapter.get_relation(this.database, this.schema, 'int_sessions')
    if execute else none %}
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

sessions_before_batch as (

    -- per visitor, their sessions that started before the first touched event, with the end
    -- of the session before each
    {%- if sessions %}
    select
        first_touched.visitor_id,
        sessions.started_at,
        sessions.ended_at,
        sessions.visitor_session_number,
        lag(sessions.ended_at) over (
            partition by sessions.visitor_id
            order by sessions.started_at
        ) as previous_session_ended_at,
        row_number() over (
            partition by sessions.visitor_id
            order by sessions.started_at desc
        ) as recency
    from first_touched
    inner join {{ sessions }} as sessions
        on
            first_touched.visitor_id = sessions.visitor_id
            and first_touched.first_touched_ts > sessions.started_at
    {%- else %}
    -- no sessions yet: every touched visitor starts from their first event
    select
        cast(null as {{ dbt.type_string() }}) as visitor_id,
        cast(null as {{ dbt.type_timestamp() }}) as started_at,
        cast(null as {{ dbt.type_timestamp() }}) as ended_at,
        cast(null as {{ dbt.type_bigint() }}) as visitor_session_number,
        cast(null as {{ dbt.type_timestamp() }}) as previous_session_ended_at,
        1 as recency
    where false
    {%- endif %}

),

last_session as (

    -- the visitor's last session before the first touched event (unchanged unless the touched
    -- event joins it: its end can only be the last event before it, or later)
    select * from sessions_before_batch
    where recency = 1

),

placed as (

    select
        first_touched.visitor_id,
        first_touched.first_touched_ts,
        last_session.started_at as last_session_start_ts,
        last_session.ended_at as last_session_end_ts,
        last_session.visitor_session_number as last_session_number,
        {{ seconds_between('last_session.previous_session_ended_at', 'last_session.started_at') }}
            as last_session_start_gap_s,
        last_session.started_at is not null
        and first_touched.first_touched_ts <= {{ dbt.dateadd(
            'minute', timeout, 'last_session.ended_at'
        ) }} as joins_last_session
    from first_touched
    left join last_session
        on first_touched.visitor_id = last_session.visitor_id

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
        case when not joins_last_session then last_session_end_ts end as previous_event_ts,
        case when joins_last_session then last_session_start_gap_s end as first_event_gap_s
    from placed
    -- a --full-refresh reads no batch model: empty
    where {{ has_batch() }}

)

select * from final
