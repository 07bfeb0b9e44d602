-- One row per business date from the first to the last business date seen in the data: order
-- days and event days (first and last event of every session). Daily marts start from this
-- spine so that a day without activity is a row of zeros, not a gap.

with

order_bounds as (

    select
        min(order_date) as min_date,
        max(order_date) as max_date
    from {{ ref('int_order_facts') }}

),

event_bounds as (

    select
        min(business_date) as min_date,
        max(cast(ended_at_local as date)) as max_date
    from {{ ref('int_sessions') }}

),

all_bounds as (

    select * from order_bounds
    union all
    select * from event_bounds

),

bounds as (

    select
        min(min_date) as start_date,
        max(max_date) as end_date
    from all_bounds

),

days as (

    {{ date_series(
        '(select bounds.start_date from bounds)',
        '(select bounds.end_date from bounds)'
    ) }}

),

final as (

    select
        date_day as business_date,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        -- ISO day of week, 1 = Monday ... 7 = Sunday (2000-01-03 was a Monday)
        cast(
            mod({{ dbt.datediff("cast('2000-01-03' as date)", 'date_day', 'day') }}, 7) + 1
            as {{ dbt.type_int() }}
        ) as iso_day_of_week
    from days

)

select * from final
