{{ config(**incremental_config(unique_key=['business_date', 'hour_of_day'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Active hours and purchase time of day (kpi-catalog section 8 "hourly_activity"), one row per
-- business date of int_date_spine and local hour 0-23 (24 rows a day, zeros where nothing
-- happened). Sessions count in the local hour of their first event (on the session's day, as
-- in daily_traffic); paid orders and paid revenue in the local hour of order_ts (on the order's
-- day; paid as in int_order_facts). session_conversion_rate = sessions with a purchase / sessions
-- of the hour. A batch build reads the sessions and orders of the dates it rewrites only.
{%- set batch_build = is_incremental() %}

with

spine as (

    select
        business_date,
        iso_day_of_week
    from {{ ref('int_date_spine') }}

),
{%- if batch_build %}

rebuilt_dates as (

    {#- the dates of the last line's filter #}
    select business_date from spine
    {{- incremental_rows_filter('business_date') }}

),
{%- endif %}

sessions as (

    select * from {{ ref('int_sessions') }}
    {%- if batch_build %}
    where business_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

orders as (

    select * from {{ ref('int_order_facts') }}
    {%- if batch_build %}
    where order_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

hours as (

    {%- for hour in range(24) %}
    select {{ hour }} as hour_of_day
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

grid as (

    select
        spine.business_date,
        spine.iso_day_of_week,
        hours.hour_of_day
    from spine
    cross join hours

),

sessions_hourly as (

    select
        business_date,
        extract(hour from started_at_local) as hour_of_day,
        count(*) as sessions,
        sum(case when has_purchase then 1 else 0 end) as converted_sessions
    from sessions
    group by business_date, extract(hour from started_at_local)

),

orders_hourly as (

    select
        order_date as business_date,
        extract(hour from order_ts_local) as hour_of_day,
        count(*) as paid_orders,
        sum(order_value) as paid_revenue
    from orders
    where is_paid
    group by order_date, extract(hour from order_ts_local)

),

hourly as (

    select
        grid.business_date,
        grid.hour_of_day,
        grid.iso_day_of_week,
        coalesce(sessions_hourly.sessions, 0) as sessions,
        coalesce(sessions_hourly.converted_sessions, 0) as converted_sessions,
        coalesce(orders_hourly.paid_orders, 0) as paid_orders,
        coalesce(orders_hourly.paid_revenue, 0) as paid_revenue
    from grid
    left join sessions_hourly
        on
            grid.business_date = sessions_hourly.business_date
            and grid.hour_of_day = sessions_hourly.hour_of_day
    left join orders_hourly
        on
            grid.business_date = orders_hourly.business_date
            and grid.hour_of_day = orders_hourly.hour_of_day

),

final as (

    select
        business_date,
        cast(hour_of_day as {{ dbt.type_int() }}) as hour_of_day,
        cast(sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        {{ safe_divide('converted_sessions', 'sessions') }} as session_conversion_rate,
        cast(converted_sessions as {{ dbt.type_bigint() }}) as converted_sessions,
        iso_day_of_week
    from hourly

)

select * from final
{{- incremental_rows_filter('business_date', grain_columns=['hour_of_day']) }}
