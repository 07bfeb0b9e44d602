{{ config(**incremental_config(unique_key=['business_date', 'payment_method'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Payment-method mix (kpi-catalog section 8 payment_method_mix), a dense grid: every business
-- date of int_date_spine x every payment method seen (NULL method -> 'unknown'). Attempts count
-- on the business day of the attempt (as daily_payments); a paid order counts once, for the
-- method of its first successful attempt (earliest attempt_ts, then payment_id), on its order
-- day with its order_value (as daily_sales), so the methods of a day add up to
-- daily_sales.paid_orders / paid_revenue.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

payments as (

    select
        *,
        coalesce(method, 'unknown') as payment_method
    from {{ ref('stg_shop__payments') }}

),

orders as (

    select * from {{ ref('int_order_facts') }}

),

methods as (

    select distinct payment_method from payments

),

attempts_daily as (

    select
        attempt_date as business_date,
        payment_method,
        count(*) as attempts,
        sum(case when is_success then 1 else 0 end) as successful_attempts
    from payments
    group by attempt_date, payment_method

),

first_successes as (

    select
        order_id,
        payment_method,
        row_number() over (
            partition by order_id order by attempt_ts, payment_id
        ) as success_number
    from payments
    where is_success

),

paid_daily as (

    select
        orders.order_date as business_date,
        first_successes.payment_method,
        count(*) as paid_orders,
        sum(orders.order_value) as paid_revenue
    from orders
    inner join first_successes
        on
            orders.order_id = first_successes.order_id
            and first_successes.success_number = 1
    where orders.is_paid
    group by orders.order_date, first_successes.payment_method

),

daily as (

    select
        spine.business_date,
        methods.payment_method,
        coalesce(attempts_daily.attempts, 0) as attempts,
        coalesce(attempts_daily.successful_attempts, 0) as successful_attempts,
        coalesce(paid_daily.paid_orders, 0) as paid_orders,
        coalesce(paid_daily.paid_revenue, 0) as paid_revenue
    from spine
    cross join methods
    left join attempts_daily
        on
            spine.business_date = attempts_daily.business_date
            and methods.payment_method = attempts_daily.payment_method
    left join paid_daily
        on
            spine.business_date = paid_daily.business_date
            and methods.payment_method = paid_daily.payment_method

),

with_day_totals as (

    select
        *,
        sum(paid_revenue) over (partition by business_date) as day_paid_revenue
    from daily

),

final as (

    select
        business_date,
        payment_method,
        cast(attempts as {{ dbt.type_bigint() }}) as attempts,
        cast(successful_attempts as {{ dbt.type_bigint() }}) as successful_attempts,
        {{ safe_divide('successful_attempts', 'attempts') }} as success_rate,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        {{ safe_divide('paid_revenue', 'day_paid_revenue') }} as revenue_share
    from with_day_totals

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['payment_method']
) }}
