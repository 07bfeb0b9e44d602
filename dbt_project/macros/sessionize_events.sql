{% macro sessionize_events(batch_build, events='to_sessionize') -%}
    {#-
        The CTEs that give the events of `events` (a relation, or the caller's CTE
        to_sessionize) their session (with_previous .. final; the caller selects from
        `final`): a visitor's events form one session as long as the gap to the visitor's
        previous event is at most var('session_timeout_minutes'); a longer gap (or the
        visitor's first event) starts a new session. Ties on event_ts are ordered by event_id.
        Every window is the same (visitor_events), over narrow rows (key, timestamp, page-view
        flag): a lag pass, then one pass of running sums and maxes carrying the session's first
        position, id and earlier page views (event_seq, page_view_seq: differences). The other
        columns are joined back once on event_id: `events` is read twice, so pass a relation
        (DuckDB would materialize a CTE whole).
        batch_build: `to_sessionize` holds each batch visitor's events from resessionize_from
        on, with int_batch_visitors' sessions_before, window_previous_event_ts and
        first_event_gap_s (int_batch_sessionized_events); otherwise every event of every visitor.
    -#}
with_previous as (

    select
        visitor_id,
        event_id,
        event_ts,
        case when event_type = 'page_view' then 1 else 0 end as is_page_view,
        lag(event_ts) over visitor_events as previous_event_ts,
        row_number() over visitor_events as visitor_event_number,
        count(case when event_type = 'page_view' then 1 end)
            over visitor_events as visitor_page_views
    from {{ events }}
    window visitor_events as (
        partition by visitor_id
        -- the default frame (unbounded preceding .. current row): no two rows are peers
        order by event_ts, event_id
    )

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
        event_id,
        event_ts,
        previous_event_ts,
        is_session_start,
        visitor_event_number,
        visitor_page_views,
        sum(is_session_start) over visitor_events as session_number_in_window,
        max(case when is_session_start = 1 then visitor_event_number end)
            over visitor_events as session_start_number,
        max(case when is_session_start = 1 then visitor_page_views - is_page_view end)
            over visitor_events as page_views_before_session,
        max_by(event_id, case when is_session_start = 1 then visitor_event_number end)
            over visitor_events as session_id
    from flagged
    window visitor_events as (
        partition by visitor_id
        order by event_ts, event_id
    )

),

sequenced as (

    select
        numbered.session_id,
        {% if batch_build %}wide_events.sessions_before + {% endif -%}
        numbered.session_number_in_window as visitor_session_number,
        numbered.visitor_event_number - numbered.session_start_number + 1 as event_seq,
        case
            when wide_events.event_type = 'page_view'
                then numbered.visitor_page_views - numbered.page_views_before_session
        end as page_view_seq,
        numbered.is_session_start,
        numbered.previous_event_ts,
        wide_events.*
    from numbered
    inner join {{ events }} as wide_events on numbered.event_id = wide_events.event_id

),

final as (

    select
        session_id,
        visitor_session_number,
        event_seq,
        page_view_seq,
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
