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

customer_ltv as (

    select
        customers.customer_id,
        customers.first_paid_month as cohort_month,
        {% for n in [30, 90, 180, 365] -%}
            sum(
                case
                    when
                        {{ dbt.datediff('customers.first_paid_order_date', 'revenue_events.event_date', 'day') }}
                        <= {{ n }}
                        then revenue_events.amount
                    else 0
                end
            ) as net_revenue_{{ n }}d{{ "," if not loop.last }}
        {% endfor %}
    from customers
    inner join revenue_events
        on customers.customer_id = revenue_events.customer_id
    where customers.first_paid_month is not null
    group by customers.customer_id, customers.first_paid_month

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

final as (

    select
        months.cohort_month,
        cast(coalesce(cohorts.cohort_size, 0) as {{ dbt.type_bigint() }}) as cohort_size,
        {% for n in [30, 90, 180, 365] -%}
            cast(
                case
                    when
                        {{ dbt.dateadd('day', n, dbt.last_day('months.cohort_month', 'month')) }}
                        <= snapshot_date.as_of_date
                        then {{ safe_divide('cohorts.net_revenue_' ~ n ~ 'd', 'cohorts.cohort_size') }}
                end
                as {{ type_money() }}
            ) as ltv_{{ n }}d{{ "," if not loop.last }}
        {% endfor %}
    from months
    cross join snapshot_date
    left join cohorts
        on months.cohort_month = cohorts.cohort_month

)

select * from final
