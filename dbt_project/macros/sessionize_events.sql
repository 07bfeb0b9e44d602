{% macro sessionize_events(batch_build) -%}
    {#-
        The CTEs that give the events of CTE `to_sessionize` their session (with_previous ..
        final; the caller selects from `final`): a visitor's events form one session as long as
        the gap to the visitor's previous event is at most var('session_timeout_minutes'); a
        longer gap (or the visitor's first event) starts a new session. Ties on event_ts are
        ordered by event_id.
        batch_build: `to_sessionize` holds each batch visitor's events from resessionize_from
        on, with int_batch_visitors' sessions_before, window_previous_event_ts and
        first_event_gap_s (int_batch_sessionized_events); otherwise every event of every visitor
        (int_events_sessionized on a full build: no column is added to the windows' rows, which
        spill at scale).
    -#}
with_previous as (

    select
        to_sessionize.*,
        lag(to_sessionize.event_ts) over (
            partition by to_sessionize.visitor_id
            order by to_sessionize.event_ts, to_sessionize.event_id
        ) as previous_event_ts
    from to_sessionize

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
        {% if batch_build %}flagged.sessions_before + {% endif -%}
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
        {%- if batch_build %}
        -- the first re-derived event has no previous event here: its gap comes from before
        coalesce(
            {{ seconds_between('previous_event_ts', 'event_ts') }},
            {{ seconds_between('window_previous_event_ts', 'event_ts') }},
            first_event_gap_s
        ) as seconds_since_previous_event,
        {%- else %}
        {{ seconds_between('previous_event_ts', 'event_ts') }} as seconds_since_previous_event,
        {%- endif %}
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
{%- endmacro %}


{% macro sessionized_events_to_read() -%}
    {#- The sessionized events a model derives its rows from: in an incremental build the events
        int_batch_sessionized_events re-derived (each batch visitor's from resessionize_from on,
        the rows the model rebuilds), else every event of int_events_sessionized. The model
        declares `-- depends_on:` the batch model (parsing sees the full-build branch only). -#}
    {%- if is_incremental() -%}
        {{ return(ref('int_batch_sessionized_events')) }}
    {%- endif -%}
    {{ return(ref('int_events_sessionized')) }}
{%- endmacro %}
