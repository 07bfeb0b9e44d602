{{ config(**incremental_config(
    unique_key=['business_date', 'placement'], partition_column='business_date'
)) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Click-through rate by placement (kpi-catalog section 2), one row per business date of
-- int_date_spine and placement: a dense grid of every day x every placement seen on an
-- impression or click event (a missing placement is 'unknown'), zeros on days without
-- activity. Events count on their own business day (like page_views in daily_traffic).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

events as (

    select
        event_date,
        event_type,
        coalesce(placement, 'unknown') as placement
    from {{ ref('stg_tracking__events') }}
    where event_type in ('impression', 'click')

),

placements as (

    select distinct placement from events

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
    'business_date', grain_columns=['placement']
) }}
