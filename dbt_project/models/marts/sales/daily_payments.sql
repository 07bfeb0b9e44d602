{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Daily payment KPIs (kpi-catalog section 2), one row per business date of int_date_spine.
-- Two cohorts on purpose, as the catalog defines them: payment_success_rate counts payment
-- attempts on the business day of the attempt; order_payment_rate counts orders on the business
-- day they were placed (paid = at least one successful attempt, whenever it happened, as in
-- int_order_facts and daily_sales).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

payments as (

    select * from {{ ref('stg_shop__payments') }}

),

orders as (

    select * from {{ ref('int_order_facts') }}

),

attempts_daily as (

    select
        attempt_date as business_date,
        count(*) as payment_attempts,
        sum(case when is_success then 1 else 0 end) as successful_attempts
    from payments
    group by attempt_date

),

orders_daily as (

    select
        order_date as business_date,
        count(*) as orders_placed,
        sum(case when is_paid then 1 else 0 end) as paid_orders
    from orders
    group by order_date

),

daily as (

    select
        spine.business_date,
        coalesce(attempts_daily.payment_attempts, 0) as payment_attempts,
        coalesce(attempts_daily.successful_attempts, 0) as successful_attempts,
        coalesce(orders_daily.orders_placed, 0) as orders_placed,
        coalesce(orders_daily.paid_orders, 0) as paid_orders
    from spine
    left join attempts_daily
        on spine.business_date = attempts_daily.business_date
    left join orders_daily
        on spine.business_date = orders_daily.business_date

),

final as (

    select
        business_date,
        cast(payment_attempts as {{ dbt.type_bigint() }}) as payment_attempts,
        cast(successful_attempts as {{ dbt.type_bigint() }}) as successful_attempts,
        {{ safe_divide('successful_attempts', 'payment_attempts') }} as payment_success_rate,
        cast(orders_placed as {{ dbt.type_bigint() }}) as orders_placed,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        {{ safe_divide('paid_orders', 'orders_placed') }} as order_payment_rate,
        cast(payment_attempts - successful_attempts as {{ dbt.type_bigint() }}) as failed_attempts
    from daily

)

select * from final
{{- incremental_rows_filter(
    'business_date'
) }}
