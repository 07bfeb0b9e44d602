{#- A row (customer, month) depends on the customer's signup date and paid orders (every
    customer whose facts or orders the batch can change is in int_batch_customers), on the
    month's end (its last day, or the snapshot date when that comes first) and on the data's
    months. So a batch build deletes the batch customers' rows, the rows cut at an earlier
    snapshot date, the months from the snapshot's on and any month before the data's first
    but one; every other row keeps its month end and inputs. It inserts each row the table then
    lacks. The snapshot date moves every day, so a month end cut at it is rebuilt daily. -#}
{{ config(**incremental_config(rebuilds="
    customer_id in (select customer_id from {{ ref('int_batch_customers') }})
    or month_end_date < cast({{ dbt.last_day('month_start', 'month') }} as date)
    or month_start >= (
        select cast({{ dbt.date_trunc('month', 'as_of_date') }} as date)
        from {{ ref('int_customer_snapshot_date') }}
    )
    or month_start < (
        select cast({{ dbt.dateadd('month', -1, dbt.date_trunc('month', 'data_start_date')) }} as date)
        from {{ ref('int_customer_snapshot_date') }}
    )
")) }}
-- depends_on: {{ ref('int_batch_customers') }}
-- A table, not a view: lifecycle_flows and four data tests read it (customers x months).

-- Lifecycle stage of every customer at every month end (macro lifecycle_stage), for the
-- month-over-month flows. Months: those of int_date_spine plus the month before the first
-- one (the starting point of the first month's flows), up to the snapshot date; a month's end
-- is its last day, or the snapshot date when that comes first. A customer appears from the
-- first month end on or after the signup date; stages use paid orders placed up to the month
-- end. Incremental: a batch build computes the rows its pre-hook deleted (and any row new to
-- the table), those missing from the table.

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

orders as (

    select * from {{ ref('int_order_facts') }}

),

spine_months as (

    select distinct month_start from spine

),

months as (

    select month_start from spine_months
    union all
    select cast({{ dbt.dateadd('month', -1, 'min(month_start)') }} as date) as month_start
    from spine_months

),

month_ends as (

    select
        months.month_start,
        case
            when
                cast({{ dbt.last_day('months.month_start', 'month') }} as date)
                > snapshot_date.as_of_date
                then snapshot_date.as_of_date
            else cast({{ dbt.last_day('months.month_start', 'month') }} as date)
        end as month_end_date
    from months
    cross join snapshot_date
    where months.month_start <= snapshot_date.as_of_date

),

customer_months as (

    select
        customers.customer_id,
        month_ends.month_start,
        month_ends.month_end_date
    from customers
    inner join month_ends
        on customers.signup_date <= month_ends.month_end_date
    {%- if is_incremental() %}
    -- the rows the table lacks after the pre-hook's delete
    left join {{ this }} as kept
        on
            customers.customer_id = kept.customer_id
            and month_ends.month_start = kept.month_start
    where kept.customer_id is null
    {%- endif %}

),

paid_to_date as (

    select
        customer_months.customer_id,
        customer_months.month_start,
        min(orders.order_date) as first_paid_order_date,
        max(orders.order_date) as last_paid_order_date
    from customer_months
    inner join orders
        on
            customer_months.customer_id = orders.customer_id
            and customer_months.month_end_date >= orders.order_date
    where orders.is_paid
    group by customer_months.customer_id, customer_months.month_start

),

final as (

    select
        customer_months.customer_id,
        customer_months.month_start,
        customer_months.month_end_date,
        paid_to_date.first_paid_order_date,
        paid_to_date.last_paid_order_date,
        {{ lifecycle_stage(
            'paid_to_date.first_paid_order_date',
            'paid_to_date.last_paid_order_date',
            'customer_months.month_end_date'
        ) }} as lifecycle_stage
    from customer_months
    left join paid_to_date
        on
            customer_months.customer_id = paid_to_date.customer_id
            and customer_months.month_start = paid_to_date.month_start

)

select * from final
