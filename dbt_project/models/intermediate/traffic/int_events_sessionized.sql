{{ config(**incremental_config(
    replace_where="visitor_id in (select visitor_id from __int_batch_visitors__)"
)) }}
-- depends_on: {{ ref('int_batch_visitors') }}

-- Tracking events with their session: a visitor's events form one session as long as the gap
-- to the visitor's previous event is at most var('session_timeout_minutes'); a longer gap (or
-- the visitor's first event) starts a new session. Ties on event_ts are ordered by event_id.
-- Incremental: the events of the visitors with batch events (int_batch_visitors) are
-- re-sessionized over their whole history (a session depends on the visitor's every event).

with

events as (

    select * from {{ ref('stg_tracking__events') }}
    {{- batch_visitors_filter() }}

),

with_previous as (

    select
        events.*,
        lag(events.event_ts) over (
            partition by events.visitor_id
            order by events.event_ts, events.event_id
        ) as previous_event_ts
    from events

),

flagged as (

    select
        with_previous.*,
        case
            when with_previous.previous_event_ts is null then 1
            when
                with_previous.event_ts > {{ dbt.dateadd(
                    'minute',
                    var('session_timeout_minutes'),
                    'with_previous.previous_event_ts'
                ) }}
                then 1
            else 0
        end as is_session_start
    from with_previous

),

numbered as (

    select
        flagged.*,
        sum(flagged.is_session_start) over (
            partition by flagged.visitor_id
            order by flagged.event_ts, flagged.event_id
            rows between unbounded preceding and current row
        ) as visitor_session_number
    from flagged

),

sequenced as (

    select
        numbered.*,
        first_value(numbered.event_id) over (
            partition by numbered.visitor_id, numbered.visitor_session_number
            order by numbered.event_ts, numbered.event_id
            rows between unbounded preceding and unbounded following
        ) as session_id,
        row_number() over (
            partition by numbered.visitor_id, numbered.visitor_session_number
            order by numbered.event_ts, numbered.event_id
        ) as event_seq,
        row_number() over (
            partition by
                numbered.visitor_id,
                numbered.visitor_session_number,
                numbered.event_type = 'page_view'
            order by numbered.event_ts, numbered.event_id
        ) as seq_within_type_group
    from numbered

),

final as (

    select
        session_id,
        visitor_session_number,
        event_seq,
        case when event_type = 'page_view' then seq_within_type_group end as page_view_seq,
        is_session_start = 1 as is_session_start,
        {{ seconds_between('previous_event_ts', 'event_ts') }} as seconds_since_previous_event,
        event_id,
        event_ts,
        event_date,
        visitor_id,
        customer_id,
        event_type,
        page_type,
        is_product_view,
        product_id,
        order_id,
        placement,
        device,
        utm_source,
        utm_medium,
        utm_campaign,
        referrer
    from sequenced

)

select * from final
