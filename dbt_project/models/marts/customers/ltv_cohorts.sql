-- LTV by first-purchase month (kpi-catalog section 4), one row per cohort month of
-- int_date_spine. ltv_Nd = mean over the cohort's customers of the cumulative net revenue at N
-- days after the first paid order: paid order_value of the orders placed from the first paid
-- order's business date to that date + N days (inclusive), minus their refunds dated up to the
-- same day (int_customer_revenue_events). A cohort is old enough for N when the last day of
-- the cohort month + N is on or before the snapshot date; otherwise ltv_Nd is NULL.

with

spine as (

    select * from {{ ref('int_date_spine') }}

),

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

revenue_events as (

    select * from {{ ref('int_customer_revenue_events') }}

),

months as (

    select distinct month_start as cohort_month from spine

),

customer_events as (

    select
        customers.customer_id,
        customers.first_paid_month as cohort_month,
        revenue_events.amount,
        {{ dbt.datediff('customers.first_paid_order_date', 'revenue_events.event_date', 'day') }}
            as days_after_first
    from customers
    inner join revenue_events
        on customers.customer_id = revenue_events.customer_id
    where customers.first_paid_month is not null

),

customer_ltv as (

    select
        customer_id,
        cohort_month,
        sum(case when days_after_first <= 30 then amount else 0 end) as net_revenue_30d,
        sum(case when days_after_first <= 90 then amount else 0 end) as net_revenue_90d,
        sum(case when days_after_first <= 180 then amount else 0 end) as net_revenue_180d,
        sum(case when days_after_first <= 365 then amount else 0 end) as net_revenue_365d
    from customer_events
    group by customer_id, cohort_month

),

cohorts as (

    select
        cohort_month,
        count(*) as cohort_size,
        sum(net_revenue_30d) as net_revenue_30d,
        sum(net_revenue_90d) as net_revenue_90d,
        sum(net_revenue_180d) as net_revenue_180d,
        sum(net_revenue_365d) as net_revenue_365d
    from customer_ltv
    group by cohort_month

),

observed as (

    -- days observed after the cohort month's last day (its youngest first purchase)
    select
        months.cohort_month,
        coalesce(cohorts.cohort_size, 0) as cohort_size,
        cohorts.net_revenue_30d,
        cohorts.net_revenue_90d,
        cohorts.net_revenue_180d,
        cohorts.net_revenue_365d,
        {{ dbt.datediff(
            dbt.last_day('months.cohort_month', 'month'), 'snapshot_date.as_of_date', 'day'
        ) }} as days_observed
    from months
    cross join snapshot_date
    left join cohorts
        on months.cohort_month = cohorts.cohort_month

),

final as (

    select
        cohort_month,
        cast(cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        cast(
            case
                when days_observed >= 30
                    then {{ safe_divide('net_revenue_30d', 'cohort_size') }}
            end
            as {{ type_money() }}
        ) as ltv_30d,
        cast(
            case
                when days_observed >= 90
                    then {{ safe_divide('net_revenue_90d', 'cohort_size') }}
            end
            as {{ type_money() }}
        ) as ltv_90d,
        cast(
            case
                when days_observed >= 180
                    then {{ safe_divide('net_revenue_180d', 'cohort_size') }}
            end
            as {{ type_money() }}
        ) as ltv_180d,
        cast(
            case
                when days_observed >= 365
                    then {{ safe_divide('net_revenue_365d', 'cohort_size') }}
            end
            as {{ type_money() }}
        ) as ltv_365d
    from observed

)

select * from final
