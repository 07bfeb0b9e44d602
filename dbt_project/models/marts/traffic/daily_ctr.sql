{{ config(**incremental_config(unique_key=['business_date', 'placement'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Click-through rate by placement (kpi-catalog section 2), one row per business date of
-- int_date_spine and placement: a dense grid of every day x every placement seen on an
-- impression or click event (a missing placement is 'unknown'), zeros on days without
-- activity. Events count on their own business day (like page_views in daily_traffic).
-- A batch build counts the events of the dates it rewrites (rebuilt_dates) only.

{%- set batch_build = is_incremental() %}

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

placements as (

    {%- if batch_build %}
    -- the table's placements and those of the batch's dates (a placement first seen in the
    -- batch has its events there): no pass over every event
    select built.placement from {{ this }} as built
    union
    select coalesce(placement, 'unknown') as placement
    from {{ ref('stg_tracking__events') }}
    where
        event_type in ('impression', 'click')
        and event_date in (
            select batch_dates.business_date
            from {{ ref('int_batch_dates') }} as batch_dates
            where batch_dates.is_traffic_date
        )
    {%- else %}
    select distinct coalesce(placement, 'unknown') as placement
    from {{ ref('stg_tracking__events') }}
    where event_type in ('impression', 'click')
    {%- endif %}

),
{%- if batch_build %}

rebuilt_dates as (

    {#- the rows of the last line's filter; a placement new to the table fills its whole
        column: every date is rebuilt then (rare: a placement seen for the first time) #}
    select business_date from spine
    {{- incremental_rows_filter('business_date', extra_dates=(
        'select all_dates.business_date from spine as all_dates where exists ('
        ~ 'select 1 from placements where placements.placement not in ('
        ~ 'select built.placement from ' ~ this ~ ' as built))'
    ), traffic_only=true) }}

),
{%- endif %}

events as (

    select
        event_date,
        event_type,
        coalesce(placement, 'unknown') as placement
    from {{ ref('stg_tracking__events') }}
    {%- if batch_build %}
    where event_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

grid as (

    select
        spine.business_date,
        placements.placement
    from spine
    cross join placements

),

events_daily as (

    select
        event_date as business_date,
        placement,
        sum(case when event_type = 'impression' then 1 else 0 end) as impressions,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks
    from events
    where event_type in ('impression', 'click')
    group by event_date, placement

),

final as (

    select
        grid.business_date,
        grid.placement,
        cast(coalesce(events_daily.impressions, 0) as {{ dbt.type_bigint() }}) as impressions,
        cast(coalesce(events_daily.clicks, 0) as {{ dbt.type_bigint() }}) as clicks,
        {{ safe_divide('events_daily.clicks', 'events_daily.impressions') }} as ctr
    from grid
    left join events_daily
        on
            grid.business_date = events_daily.business_date
            and grid.placement = events_daily.placement

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['placement'], traffic_only=true
) }}
