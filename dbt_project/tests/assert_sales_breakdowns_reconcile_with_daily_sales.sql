-- Category and platform breakdowns add up to daily_sales: per day, the sum of
-- category_sales.paid_revenue and of platform_daily.paid_revenue equal daily_sales.paid_revenue,
-- and the platforms' paid_orders equal daily_sales.paid_orders. Per month, the products of
-- product_sales_monthly add up to the month's daily_sales.paid_revenue. Fails with the
-- offending period and breakdown.

with

category_sums as (

    select
        business_date as period_start,
        'category_sales' as breakdown,
        sum(paid_revenue) as paid_revenue,
        cast(null as {{ dbt.type_bigint() }}) as paid_orders
    from {{ ref('category_sales') }}
    group by business_date

),

platform_sums as (

    select
        business_date as period_start,
        'platform_daily' as breakdown,
        sum(paid_revenue) as paid_revenue,
        sum(paid_orders) as paid_orders
    from {{ ref('platform_daily') }}
    group by business_date

),

product_sums as (

    select
        month as period_start,  -- noqa: RF04
        'product_sales_monthly' as breakdown,
        sum(paid_revenue) as paid_revenue,
        cast(null as {{ dbt.type_bigint() }}) as paid_orders
    from {{ ref('product_sales_monthly') }}
    group by month

),

sales_daily as (

    select
        business_date as period_start,
        paid_revenue,
        paid_orders
    from {{ ref('daily_sales') }}

),

sales_monthly as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as period_start,
        sum(paid_revenue) as paid_revenue
    from {{ ref('daily_sales') }}
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

daily_checks as (

    select
        sums.period_start,
        sums.breakdown,
        sums.paid_revenue,
        sales_daily.paid_revenue as sales_paid_revenue,
        sums.paid_orders,
        sales_daily.paid_orders as sales_paid_orders
    from (
        select * from category_sums
        union all
        select * from platform_sums
    ) as sums
    left join sales_daily
        on sums.period_start = sales_daily.period_start

),

monthly_checks as (

    select
        product_sums.period_start,
        product_sums.breakdown,
        product_sums.paid_revenue,
        sales_monthly.paid_revenue as sales_paid_revenue,
        product_sums.paid_orders,
        cast(null as {{ dbt.type_bigint() }}) as sales_paid_orders
    from product_sums
    left join sales_monthly
        on product_sums.period_start = sales_monthly.period_start

),

checks as (

    select * from daily_checks
    union all
    select * from monthly_checks

)

select * from checks
where
    sales_paid_revenue is null
    or paid_revenue != sales_paid_revenue
    or coalesce(paid_orders != sales_paid_orders, false)
