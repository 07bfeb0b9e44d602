{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Daily traffic and conversion KPIs (kpi-catalog sections 1 and 2), one row per business date
-- of int_date_spine. Event counts (page_views, unique/new/purchasing visitors) use each event's
-- own business day; session KPIs use the session's day (the day of its first event).
-- A batch build reads the events and sessions of the dates it rewrites (rebuilt_dates) only.
{%- set batch_build = is_incremental() %}

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

new_visitors_daily as (

    -- a visitor is new on the day of their first session (a session's day is that of its
    -- first event): 10x fewer rows than the events, and no visitor-grained hash
    select
        business_date,
        count(*) as new_visitors
    from {{ ref('int_sessions') }}
    where visitor_session_number = 1
    group by business_date

),
{%- if batch_build %}

new_visitors_changed as (

    -- a batch event can move its visitor's first event date: the dates whose count changed
    select spine.business_date
    from spine
    left join new_visitors_daily
        on spine.business_date = new_visitors_daily.business_date
    inner join {{ this }} as built
        on spine.business_date = built.business_date
    where coalesce(new_visitors_daily.new_visitors, 0) <> built.new_visitors

),

rebuilt_dates as (

    {#- the rows of the last line's filter #}
    select business_date from spine
    {{- incremental_rows_filter(
        'business_date',
        extra_dates='select new_visitors_changed.business_date from new_visitors_changed',
        traffic_only=true
    ) }}

),
{%- endif %}

events as (

    select * from {{ ref('stg_tracking__events') }}
    {%- if batch_build %}
    where event_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

sessions as (

    select * from {{ ref('int_sessions') }}
    {%- if batch_build %}
    where business_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

events_daily as (

    select
        event_date as business_date,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        count(distinct visitor_id) as unique_visitors,
        count(distinct case when event_type = 'purchase' then visitor_id end) as converting_visitors
    from events
    group by event_date

),

sessions_daily as (

    select
        business_date,
        count(*) as sessions,
        sum(duration_s) as total_duration_s,
        sum(case when is_bounce then 1 else 0 end) as bounced_sessions,
        sum(case when landing_page_type = 'product' then 1 else 0 end) as product_landing_sessions,
        sum(
            case when landing_page_type = 'product' and is_bounce then 1 else 0 end
        ) as product_landing_bounces,
        sum(case when has_purchase then 1 else 0 end) as converted_sessions,
        sum(case when has_add_to_cart then 1 else 0 end) as cart_sessions,
        sum(
            case when has_add_to_cart and not has_purchase then 1 else 0 end
        ) as abandoned_cart_sessions
    from sessions
    group by business_date

),

daily as (

    select
        spine.business_date,
        coalesce(events_daily.page_views, 0) as page_views,
        coalesce(events_daily.unique_visitors, 0) as unique_visitors,
        coalesce(new_visitors_daily.new_visitors, 0) as new_visitors,
        coalesce(events_daily.converting_visitors, 0) as converting_visitors,
        coalesce(sessions_daily.sessions, 0) as sessions,
        sessions_daily.total_duration_s,
        coalesce(sessions_daily.bounced_sessions, 0) as bounced_sessions,
        coalesce(sessions_daily.product_landing_sessions, 0) as product_landing_sessions,
        coalesce(sessions_daily.product_landing_bounces, 0) as product_landing_bounces,
        coalesce(sessions_daily.converted_sessions, 0) as converted_sessions,
        coalesce(sessions_daily.cart_sessions, 0) as cart_sessions,
        coalesce(sessions_daily.abandoned_cart_sessions, 0) as abandoned_cart_sessions
    from spine
    left join events_daily
        on spine.business_date = events_daily.business_date
    left join new_visitors_daily
        on spine.business_date = new_visitors_daily.business_date
    left join sessions_daily
        on spine.business_date = sessions_daily.business_date

),

final as (

    select
        business_date,
        cast(page_views as {{ dbt.type_bigint() }}) as page_views,
        cast(unique_visitors as {{ dbt.type_bigint() }}) as unique_visitors,
        cast(new_visitors as {{ dbt.type_bigint() }}) as new_visitors,
        cast(sessions as {{ dbt.type_bigint() }}) as sessions,
        {{ safe_divide('page_views', 'sessions') }} as pages_per_session,
        {{ safe_divide('total_duration_s', 'sessions') }} as avg_session_duration_s,
        {{ safe_divide('bounced_sessions', 'sessions') }} as bounce_rate,
        {{ safe_divide('product_landing_bounces', 'product_landing_sessions') }}
            as product_page_bounce_rate,
        {{ safe_divide('converted_sessions', 'sessions') }} as session_conversion_rate,
        {{ safe_divide('converting_visitors', 'unique_visitors') }} as visitor_conversion_rate,
        {{ safe_divide('abandoned_cart_sessions', 'cart_sessions') }} as cart_abandonment_rate,
        cast(bounced_sessions as {{ dbt.type_bigint() }}) as bounced_sessions,
        cast(product_landing_sessions as {{ dbt.type_bigint() }}) as product_landing_sessions,
        cast(product_landing_bounces as {{ dbt.type_bigint() }}) as product_landing_bounces,
        cast(converted_sessions as {{ dbt.type_bigint() }}) as converted_sessions,
        cast(converting_visitors as {{ dbt.type_bigint() }}) as converting_visitors,
        cast(cart_sessions as {{ dbt.type_bigint() }}) as cart_sessions,
        cast(abandoned_cart_sessions as {{ dbt.type_bigint() }}) as abandoned_cart_sessions
    from daily

)

select * from final
{{- incremental_rows_filter(
    'business_date',
    extra_dates='select new_visitors_changed.business_date from new_visitors_changed',
    traffic_only=true
) }}
