{% macro sessionize_events(batch_build, events='to_sessionize') -%}
    {#-
        The CTEs that give the events of `events` (a relation, or the caller's CTE
        to_sessionize) their session (with_previous .. final; the caller selects from
        `final`): a visitor's events form one session as long as the gap to the visitor's
        previous event is at most var('session_timeout_minutes'); a longer gap (or the
        visitor's first event) starts a new session. Ties on event_ts are ordered by event_id.
        Every window is the same (visitor_events), over narrow rows (key, timestamp, page-view
        flag): a lag pass, then one pass of running sums and maxes carrying the session's first
        position, id and earlier page views (event_seq, page_view_seq: differences). That pass
        yields every session column, so the join back of the other columns on event_id builds
        its hash table from narrow rows: `events` is read twice, so pass a relation (DuckDB
        would materialize a CTE whole).
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
        max_by(event_id, case when is_session_start = 1 then visitor_event_number end)
            over visitor_events as session_id,
        sum(is_session_start) over visitor_events as session_number_in_window,
        visitor_event_number + 1
        - max(case when is_session_start = 1 then visitor_event_number end)
            over visitor_events as event_seq,
        case
            when is_page_view = 1
                then visitor_page_views - max(
                    case when is_session_start = 1 then visitor_page_views - is_page_view end
                ) over visitor_events
        end as page_view_seq,
        is_session_start = 1 as is_session_start,
        {{ seconds_between('previous_event_ts', 'event_ts') }} as seconds_since_previous_event
    from flagged
    window visitor_events as (
        partition by visitor_id
        order by event_ts, event_id
    )

),

final as (

    select
        numbered.session_id,
        {% if batch_build %}wide_events.sessions_before + {% endif -%}
        numbered.session_number_in_window as visitor_session_number,
        numbered.event_seq,
        numbered.page_view_seq,
        numbered.is_session_start,
        {%- if batch_build %}
        -- the first re-derived event has no previous event here: its gap comes from before
        coalesce(
            numbered.seconds_since_previous_event,
            {{ seconds_between('wide_events.window_previous_event_ts', 'wide_events.event_ts') }},
            wide_events.first_event_gap_s
        ) as seconds_since_previous_event,
        {%- else %}
        numbered.seconds_since_previous_event,
        {%- endif %}
        wide_events.event_id,
        wide_events.event_ts,
        wide_events.event_date,
        wide_events.visitor_id,
        wide_events.customer_id,
        wide_events.event_type,
        wide_events.page_type,
        wide_events.is_product_view,
        wide_events.product_id,
        wide_events.order_id,
        wide_events.placement,
        wide_events.device,
        wide_events.utm_source,
        wide_events.utm_medium,
        wide_events.utm_campaign,
        wide_events.referrer
    from numbered
    inner join {{ events }} as wide_events on numbered.event_id = wide_events.event_id

)
{%- endmacro %}


{% macro sessionize_relation(events) -%}
    {#- Every event of `events` (a relation or a visitor_bucket of one) with its session, as a
        complete select: int_events_sessionized's full build, one bucket per statement. -#}
with

{{ sessionize_events(batch_build=false, events=events) }}

select * from final
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


{% macro resessionized_rows(ts_column) -%}
    {#- The `rebuilds=` condition of a model fed by the re-sessionized events: its rows of each
        batch visitor from their resessionize_from on, `ts_column` being the row's time (a rowid
        semi-join: one hash join). Jinja text: the pre-hook renders this and ref() at run time. -#}
    {{ return(
        "rowid in (select rebuilt.rowid from {{ this }} as rebuilt"
        ~ " inner join {{ ref('int_batch_visitors') }} as batch_visitors"
        ~ " on rebuilt.visitor_id = batch_visitors.visitor_id"
        ~ " and rebuilt." ~ ts_column ~ " >= batch_visitors.resessionize_from)"
    ) }}
{%- endmacro %}
