-- Monthly customer KPIs (kpi-catalog sections 4 and 7), one row per calendar month of
-- int_date_spine (zeros and NULL ratios in a month without orders or signups). Paid orders
-- count in the month of their business date; mau = distinct customers active (logged-in event
-- or order) in the calendar month; referral counts follow the signup month.

with

spine as (

    select * from {{ ref('int_date_spine') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

orders as (

    select * from {{ ref('int_order_facts') }}

),

activity as (

    select * from {{ ref('int_customer_daily_activity') }}

),

months as (

    select distinct month_start from spine

),

customer_months as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as month_start,
        count(*) as paid_orders,
        sum(order_value) as paid_revenue
    from orders
    where is_paid
    group by customer_id, cast({{ dbt.date_trunc('month', 'order_date') }} as date)

),

buyers_monthly as (

    select
        month_start,
        count(*) as buyers,
        sum(case when paid_orders >= 2 then 1 else 0 end) as repeat_buyers,
        sum(paid_orders) as paid_orders,
        sum(paid_revenue) as paid_revenue
    from customer_months
    group by month_start

),

active_monthly as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start,
        count(distinct customer_id) as mau
    from activity
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

signups_monthly as (

    select
        signup_month as month_start,
        count(*) as new_customers,
        sum(case when is_referred then 1 else 0 end) as referred_signups,
        count(distinct referrer_customer_id) as referring_customers
    from customers
    group by signup_month

),

cumulative as (

    -- all-time repurchase up to the month end: customers whose first / second paid order
    -- (business date) falls on or before the month end
    select
        months.month_start,
        sum(
            case when customers.first_paid_month <= months.month_start then 1 else 0 end
        ) as cumulative_buyers,
        sum(
            case
                when
                    cast({{ dbt.date_trunc('month', 'customers.second_paid_order_date') }} as date)
                    <= months.month_start
                    then 1
                else 0
            end
        ) as cumulative_repeat_buyers
    from months
    cross join customers
    group by months.month_start

),

monthly as (

    select
        months.month_start,
        coalesce(buyers_monthly.buyers, 0) as buyers,
        coalesce(buyers_monthly.repeat_buyers, 0) as repeat_buyers,
        coalesce(buyers_monthly.paid_orders, 0) as paid_orders,
        coalesce(buyers_monthly.paid_revenue, 0) as paid_revenue,
        coalesce(active_monthly.mau, 0) as mau,
        coalesce(signups_monthly.new_customers, 0) as new_customers,
        coalesce(signups_monthly.referred_signups, 0) as referred_signups,
        coalesce(signups_monthly.referring_customers, 0) as referring_customers,
        coalesce(cumulative.cumulative_buyers, 0) as cumulative_buyers,
        coalesce(cumulative.cumulative_repeat_buyers, 0) as cumulative_repeat_buyers
    from months
    left join buyers_monthly
        on months.month_start = buyers_monthly.month_start
    left join active_monthly
        on months.month_start = active_monthly.month_start
    left join signups_monthly
        on months.month_start = signups_monthly.month_start
    left join cumulative
        on months.month_start = cumulative.month_start

),

final as (

    select
        month_start as month,  -- noqa: RF04
        cast(buyers as {{ dbt.type_bigint() }}) as buyers,
        cast(repeat_buyers as {{ dbt.type_bigint() }}) as repeat_buyers,
        {{ safe_divide('repeat_buyers', 'buyers') }} as repurchase_rate,
        {{ safe_divide('paid_orders', 'buyers') }} as purchase_frequency,
        cast(mau as {{ dbt.type_bigint() }}) as mau,
        cast({{ safe_divide('paid_revenue', 'mau') }} as {{ type_money() }}) as arpu,
        cast({{ safe_divide('paid_revenue', 'buyers') }} as {{ type_money() }}) as arppu,
        cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
        {{ safe_divide('referred_signups', 'new_customers') }} as referral_rate,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        cast(referred_signups as {{ dbt.type_bigint() }}) as referred_signups,
        cast(referring_customers as {{ dbt.type_bigint() }}) as referring_customers,
        {{ safe_divide('referred_signups', 'referring_customers') }} as referrals_per_referrer,
        cast(cumulative_buyers as {{ dbt.type_bigint() }}) as cumulative_buyers,
        cast(cumulative_repeat_buyers as {{ dbt.type_bigint() }}) as cumulative_repeat_buyers,
        {{ safe_divide('cumulative_repeat_buyers', 'cumulative_buyers') }}
            as repurchase_rate_all_time
    from monthly

)

select * from final
