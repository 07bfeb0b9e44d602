{#- The months whose rows the batch can change, exactly. A month's rows depend on its searches,
    the session holding each (int_sessions) and that session's purchase events. A search's
    month moves only with a version of its event: every version of a batch event is in
    int_batch_events (where it was and where it is). A session, or its purchases, change only
    from a batch visitor's resessionize_from on, which is a session start (the session a batch
    event joins) or the batch event itself: every event of a changed session, a search in the
    month before its purchase included, is re-derived in int_batch_sessionized_events. -#}
{{ config(**incremental_config(rebuilds="
    month in (
        select cast(date_trunc('month', event_date) as date)
        from {{ ref('int_batch_sessionized_events') }}
        union
        select cast(date_trunc('month', {{ to_business_date('event_ts') }}) as date)
        from {{ ref('int_batch_events') }}
    )
")) }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}
-- depends_on: {{ ref('int_batch_events') }}

-- Search keywords (kpi-catalog section 8 "search_terms"), one row per month and normalised
-- search query (stg_tracking__events.search_query: lower case, trimmed, empty -> NULL). A search
-- is a `search` event with a query; it counts in the month of its business day. A session
-- searched a term in a month when it has such a search there, and converted on it when the
-- session has a purchase event later than its first search of the term (of that month). A search
-- finds its session in int_sessions (the visitor's session whose first-to-last event span holds
-- it: a visitor's sessions never overlap), and purchases come from int_purchase_events, so no
-- pass over every sessionized event. Without the optional column the mart is empty.
-- Incremental by month: a batch build reads the searches of its config's rebuilds months, the
-- sessions that can hold them and the purchases that can follow them.

{%- set search_month = 'cast(' ~ dbt.date_trunc('month', 'event_date') ~ ' as date)' %}

with
{%- if is_incremental() %}

rebuilt_months as (

    -- the months of the config's rebuilds
    select {{ search_month }} as search_month
    from {{ ref('int_batch_sessionized_events') }}
    union
    select
        cast({{ dbt.date_trunc('month', to_business_date('event_ts')) }} as date) as search_month
    from {{ ref('int_batch_events') }}

),
{%- endif %}

searches as (

    select
        event_ts,
        event_date,
        visitor_id,
        search_query
    from {{ ref('stg_tracking__events') }}
    where
        event_type = 'search'
        and search_query is not null
        {%- if is_incremental() %}
        and event_date >= (select min(rebuilt.search_month) from rebuilt_months as rebuilt)
        and {{ search_month }} in (select rebuilt.search_month from rebuilt_months as rebuilt)
        {%- endif %}

),

sessions as (

    select
        session_id,
        visitor_id,
        started_at,
        ended_at
    from {{ ref('int_sessions') }}
    {%- if is_incremental() %}
    -- only a session that ends after the first search read can hold one
    where ended_at >= (select min(searches.event_ts) from searches)
    {%- endif %}

),

session_purchases as (

    select
        session_id,
        max(event_ts) as last_purchase_at
    from {{ ref('int_purchase_events') }}
    {%- if is_incremental() %}
    -- only a purchase after the first search read can convert one
    where event_ts > (select min(searches.event_ts) from searches)
    {%- endif %}
    group by session_id

),

session_terms as (

    -- one row per month, term and session that searched it
    select
        cast({{ dbt.date_trunc('month', 'searches.event_date') }} as date) as search_month,
        searches.search_query,
        sessions.session_id,
        searches.visitor_id,
        count(*) as searches,
        min(searches.event_ts) as first_search_at
    from searches
    inner join sessions
        on
            searches.visitor_id = sessions.visitor_id
            and searches.event_ts between sessions.started_at and sessions.ended_at
    group by
        cast({{ dbt.date_trunc('month', 'searches.event_date') }} as date),
        searches.search_query,
        sessions.session_id,
        searches.visitor_id

),

converted as (

    select
        session_terms.*,
        coalesce(
            session_purchases.last_purchase_at > session_terms.first_search_at, false
        ) as is_converted
    from session_terms
    left join session_purchases
        on session_terms.session_id = session_purchases.session_id

),

monthly as (

    select
        search_month,
        search_query,
        sum(searches) as searches,
        count(distinct visitor_id) as searching_visitors,
        count(*) as searching_sessions,
        sum(case when is_converted then 1 else 0 end) as converted_sessions
    from converted
    group by search_month, search_query

),

final as (

    select
        search_month as month,  -- noqa: RF04
        search_query,
        cast(searches as {{ dbt.type_bigint() }}) as searches,
        cast(searching_visitors as {{ dbt.type_bigint() }}) as searching_visitors,
        cast(converted_sessions as {{ dbt.type_bigint() }}) as converted_sessions,
        {{ safe_divide('converted_sessions', 'searching_sessions') }} as search_conversion_rate,
        cast(searching_sessions as {{ dbt.type_bigint() }}) as searching_sessions
    from monthly

)

select * from final
