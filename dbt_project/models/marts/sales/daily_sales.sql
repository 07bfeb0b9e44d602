{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Daily sales KPIs (kpi-catalog section 3 and coupon KPIs of section 5), one row per business
-- date of int_date_spine. Orders count on the business day of order_ts (any status for
-- orders_placed / gmv / discount_share; paid orders only for the paid KPIs); refunds count on
-- the business day of the refund; refund_rate is the order-day cohort's refunded amount (all
-- its refunds so far) over the cohort's paid_revenue.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

orders as (

    select * from {{ ref('int_order_facts') }}

),

refunds as (

    select * from {{ ref('stg_shop__refunds') }}

),

orders_daily as (

    select
        order_date as business_date,
        count(*) as orders_placed,
        sum(merchandise_value) as gmv,
        sum(discount_amount) as discount_amount,
        sum(case when is_paid then 1 else 0 end) as paid_orders,
        sum(case when is_paid then order_value else 0 end) as paid_revenue,
        sum(case when is_paid then units else 0 end) as units_sold,
        count(distinct case when is_paid then customer_id end) as buyers,
        sum(case when is_paid then refunded_amount else 0 end) as cohort_refunded_amount,
        sum(case when is_paid and has_return then 1 else 0 end) as returned_paid_orders,
        sum(case when is_paid and has_coupon then 1 else 0 end) as coupon_paid_orders
    from orders
    group by order_date

),

refunds_daily as (

    select
        refund_date as business_date,
        sum(amount) as refunds
    from refunds
    group by refund_date

),

daily as (

    select
        spine.business_date,
        cast(coalesce(orders_daily.orders_placed, 0) as {{ dbt.type_bigint() }}) as orders_placed,
        cast(coalesce(orders_daily.gmv, 0) as {{ type_money() }}) as gmv,
        cast(coalesce(orders_daily.paid_orders, 0) as {{ dbt.type_bigint() }}) as paid_orders,
        cast(coalesce(orders_daily.paid_revenue, 0) as {{ type_money() }}) as paid_revenue,
        cast(coalesce(orders_daily.units_sold, 0) as {{ dbt.type_bigint() }}) as units_sold,
        cast(coalesce(orders_daily.buyers, 0) as {{ dbt.type_bigint() }}) as buyers,
        cast(coalesce(refunds_daily.refunds, 0) as {{ type_money() }}) as refunds,
        cast(
            coalesce(orders_daily.discount_amount, 0) as {{ type_money() }}
        ) as discount_amount,
        cast(
            coalesce(orders_daily.cohort_refunded_amount, 0) as {{ type_money() }}
        ) as cohort_refunded_amount,
        cast(
            coalesce(orders_daily.returned_paid_orders, 0) as {{ dbt.type_bigint() }}
        ) as returned_paid_orders,
        cast(
            coalesce(orders_daily.coupon_paid_orders, 0) as {{ dbt.type_bigint() }}
        ) as coupon_paid_orders
    from spine
    left join orders_daily
        on spine.business_date = orders_daily.business_date
    left join refunds_daily
        on spine.business_date = refunds_daily.business_date

),

final as (

    select
        daily.business_date,
        daily.orders_placed,
        daily.gmv,
        daily.paid_orders,
        daily.paid_revenue,
        daily.units_sold,
        daily.buyers,
        cast(
            {{ safe_divide('daily.paid_revenue', 'daily.paid_orders') }} as {{ type_money() }}
        ) as aov,
        cast(
            {{ safe_divide('daily.paid_revenue', 'daily.buyers') }} as {{ type_money() }}
        ) as revenue_per_buyer,
        daily.refunds,
        cast(daily.paid_revenue - daily.refunds as {{ type_money() }}) as net_revenue,
        {{ safe_divide('daily.cohort_refunded_amount', 'daily.paid_revenue') }} as refund_rate,
        {{ safe_divide('daily.returned_paid_orders', 'daily.paid_orders') }} as return_rate,
        {{ safe_divide('daily.coupon_paid_orders', 'daily.paid_orders') }} as coupon_usage_rate,
        {{ safe_divide('daily.discount_amount', 'daily.gmv') }} as discount_share,
        {{ growth('daily.gmv', 'prev_day.gmv') }} as gmv_dod,
        {{ growth('daily.gmv', 'prev_week.gmv') }} as gmv_wow,
        {{ growth('daily.gmv', 'prev_month.gmv') }} as gmv_mom,
        {{ growth('daily.paid_revenue', 'prev_day.paid_revenue') }} as paid_revenue_dod,
        {{ growth('daily.paid_revenue', 'prev_week.paid_revenue') }} as paid_revenue_wow,
        {{ growth('daily.paid_orders', 'prev_week.paid_orders') }} as paid_orders_wow,
        daily.discount_amount,
        daily.cohort_refunded_amount,
        daily.returned_paid_orders,
        daily.coupon_paid_orders
    from daily
    left join daily as prev_day
        on
            prev_day.business_date
            = cast({{ dbt.dateadd('day', -1, 'daily.business_date') }} as date)
    left join daily as prev_week
        on
            prev_week.business_date
            = cast({{ dbt.dateadd('day', -7, 'daily.business_date') }} as date)
    left join daily as prev_month
        on
            prev_month.business_date
            = cast({{ dbt.dateadd('month', -1, 'daily.business_date') }} as date)

)

select * from final
{{- incremental_rows_filter(
    'business_date', lags=[['day', 1], ['day', 7], ['month', 1]]
) }}
