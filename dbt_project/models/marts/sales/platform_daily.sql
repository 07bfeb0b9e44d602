{{ config(**incremental_config(unique_key=['business_date', 'platform'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Platform mix (kpi-catalog section 3 "platform_mix"), one row per business date of
-- int_date_spine and sales platform: a dense grid of every day x every platform seen on an
-- order (a missing platform is 'unknown'), zeros on days without orders. Orders count on their
-- order day; revenue_share is the platform's paid_revenue / the day's paid_revenue over all
-- platforms (NULL on a day without paid revenue).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

orders as (

    select
        order_date,
        coalesce(platform, 'unknown') as platform,
        is_paid,
        order_value
    from {{ ref('int_order_facts') }}

),

platforms as (

    select distinct platform from orders

),

grid as (

    select
        spine.business_date,
        platforms.platform
    from spine
    cross join platforms

),

orders_daily as (

    select
        order_date as business_date,
        platform,
        count(*) as orders_placed,
        sum(case when is_paid then 1 else 0 end) as paid_orders,
        sum(case when is_paid then order_value else 0 end) as paid_revenue
    from orders
    group by order_date, platform

),

daily as (

    select
        grid.business_date,
        grid.platform,
        coalesce(orders_daily.paid_orders, 0) as paid_orders,
        coalesce(orders_daily.paid_revenue, 0) as paid_revenue,
        coalesce(orders_daily.orders_placed, 0) as orders_placed
    from grid
    left join orders_daily
        on
            grid.business_date = orders_daily.business_date
            and grid.platform = orders_daily.platform

),

with_totals as (

    select
        daily.*,
        sum(daily.paid_revenue) over (partition by daily.business_date) as day_paid_revenue
    from daily

),

final as (

    select
        business_date,
        platform,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        {{ safe_divide('paid_revenue', 'day_paid_revenue') }} as revenue_share,
        cast(orders_placed as {{ dbt.type_bigint() }}) as orders_placed
    from with_totals

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['platform']
) }}
