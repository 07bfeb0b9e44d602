-- KPI targets against actuals (kpi-catalog section 8 kpi_targets): every calendar month of
-- int_date_spine up to the snapshot date's month x every KPI the seed kpi_target_values names.
-- Actuals come from the marts: gmv, paid_revenue, paid_orders (daily_sales) summed over the
-- month's days up to as_of_date (int_customer_snapshot_date); new_customers and repurchase_rate
-- (a ratio) as monthly_customers has them. The month of as_of_date is in progress:
-- elapsed_share = its days up to as_of_date / its days (1 for earlier months), and pace
-- prorates the target of a summed KPI by it (a ratio's target is not prorated).
{%- set month_of_snapshot = dbt.date_trunc('month', 'as_of_date') %}

with

snapshot_date as (

    select as_of_date from {{ ref('int_customer_snapshot_date') }}

),

spine as (

    select * from {{ ref('int_date_spine') }}

),

targets as (

    select * from {{ ref('kpi_target_values') }}

),

daily_sales as (

    select * from {{ ref('daily_sales') }}

),

monthly_customers as (

    select * from {{ ref('monthly_customers') }}

),

snapshot_month as (

    -- the month of as_of_date: its first day, its days up to as_of_date, all its days
    select
        cast({{ month_of_snapshot }} as date) as month_start,
        {{ dbt.datediff(month_of_snapshot, 'as_of_date', 'day') }} + 1 as elapsed_days,
        {{ dbt.datediff(
            month_of_snapshot, dbt.dateadd('month', 1, month_of_snapshot), 'day'
        ) }} as month_days
    from snapshot_date

),

days_to_date as (

    select
        spine.business_date,
        spine.month_start
    from spine
    cross join snapshot_date
    where spine.business_date <= snapshot_date.as_of_date

),

months as (

    select distinct month_start from days_to_date

),

kpis as (

    select distinct kpi from targets

),

sales_monthly as (

    select
        days_to_date.month_start,
        sum(daily_sales.gmv) as gmv,
        sum(daily_sales.paid_revenue) as paid_revenue,
        sum(daily_sales.paid_orders) as paid_orders
    from days_to_date
    inner join daily_sales
        on days_to_date.business_date = daily_sales.business_date
    group by days_to_date.month_start

),

actuals as (

    -- aggregation: sum = a month total (its target is prorated by pace), ratio = not
    select
        month_start,
        'gmv' as kpi,
        'sum' as aggregation,
        cast(gmv as double) as actual
    from sales_monthly
    union all
    select
        month_start,
        'paid_revenue' as kpi,
        'sum' as aggregation,
        cast(paid_revenue as double) as actual
    from sales_monthly
    union all
    select
        month_start,
        'paid_orders' as kpi,
        'sum' as aggregation,
        cast(paid_orders as double) as actual
    from sales_monthly
    union all
    select
        month as month_start,
        'new_customers' as kpi,
        'sum' as aggregation,
        cast(new_customers as double) as actual
    from monthly_customers
    union all
    select
        month as month_start,
        'repurchase_rate' as kpi,
        'ratio' as aggregation,
        repurchase_rate as actual
    from monthly_customers

),

grid as (

    select
        months.month_start,
        kpis.kpi,
        targets.target,
        actuals.aggregation,
        actuals.actual,
        months.month_start = snapshot_month.month_start as is_current_month,
        case
            when months.month_start = snapshot_month.month_start
                then {{ safe_divide('snapshot_month.elapsed_days', 'snapshot_month.month_days') }}
            else 1.0
        end as elapsed_share
    from months
    cross join snapshot_month
    cross join kpis
    left join targets
        on months.month_start = targets.month and kpis.kpi = targets.kpi
    left join actuals
        on months.month_start = actuals.month_start and kpis.kpi = actuals.kpi

),

final as (

    select
        month_start as month,  -- noqa: RF04
        kpi,
        cast(target as double) as target,  -- noqa: RF04
        actual,
        {{ safe_divide('actual', 'target') }} as attainment,
        case
            when aggregation = 'sum'
                then {{ safe_divide('actual', 'target * elapsed_share') }}
            else {{ safe_divide('actual', 'target') }}
        end as pace,
        elapsed_share,
        is_current_month
    from grid

)

select * from final
