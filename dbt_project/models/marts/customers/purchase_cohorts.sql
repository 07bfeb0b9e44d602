-- First-purchase cohorts (kpi-catalog section 4, cohort revenue retention): one row per
-- (cohort_month, months_since_first) for every cohort month of int_date_spine and every month
-- from the cohort month to the last month of the data (zeros and NULL share when empty).
-- The cohort is the calendar month of a customer's first paid order; month k counts the
-- cohort's customers with a paid order in month cohort_month + k and their paid revenue.

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

months as (

    select distinct month_start from spine

),

grid as (

    select
        cohort_months.month_start as cohort_month,
        activity_months.month_start as activity_month,
        {{ dbt.datediff('cohort_months.month_start', 'activity_months.month_start', 'month') }}
            as months_since_first
    from months as cohort_months
    inner join months as activity_months
        on cohort_months.month_start <= activity_months.month_start

),

cohort_sizes as (

    select
        first_paid_month as cohort_month,
        count(*) as cohort_size
    from customers
    where first_paid_month is not null
    group by first_paid_month

),

cohort_activity as (

    select
        customers.first_paid_month as cohort_month,
        cast({{ dbt.date_trunc('month', 'orders.order_date') }} as date) as activity_month,
        count(distinct orders.customer_id) as active_customers,
        count(*) as paid_orders,
        sum(orders.order_value) as revenue
    from orders
    inner join customers
        on orders.customer_id = customers.customer_id
    where orders.is_paid
    group by
        customers.first_paid_month,
        cast({{ dbt.date_trunc('month', 'orders.order_date') }} as date)

),

final as (

    select
        grid.cohort_month,
        cast(grid.months_since_first as {{ dbt.type_int() }}) as months_since_first,
        cast(coalesce(cohort_sizes.cohort_size, 0) as {{ dbt.type_bigint() }}) as cohort_size,
        cast(
            coalesce(cohort_activity.active_customers, 0) as {{ dbt.type_bigint() }}
        ) as active_customers,
        {{ safe_divide(
            'coalesce(cohort_activity.active_customers, 0)', 'cohort_sizes.cohort_size'
        ) }} as active_share,
        cast(coalesce(cohort_activity.revenue, 0) as {{ type_money() }}) as revenue,
        grid.activity_month,
        cast(coalesce(cohort_activity.paid_orders, 0) as {{ dbt.type_bigint() }}) as paid_orders
    from grid
    left join cohort_sizes
        on grid.cohort_month = cohort_sizes.cohort_month
    left join cohort_activity
        on
            grid.cohort_month = cohort_activity.cohort_month
            and grid.activity_month = cohort_activity.activity_month

)

select * from final
