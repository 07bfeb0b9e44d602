{#- The months whose paid lines the batch can change: those of the activity dates (the order
    dates of the touched orders, now and before) and the current order month of every order
    whose lines were rebuilt (a product row re-read their category). -#}
{{ config(**incremental_config(rebuilds="
    month in (
        select cast(date_trunc('month', business_date) as date) from {{ ref('int_batch_dates') }}
        where is_activity_date
        union all
        select cast(date_trunc('month', order_date) as date) from {{ ref('int_order_facts') }}
        where order_id in (select order_id from {{ ref('int_batch_orders') }})
    )
")) }}
-- depends_on: {{ ref('int_batch_dates') }}
-- depends_on: {{ ref('int_batch_orders') }}
-- depends_on: {{ ref('int_order_facts') }}

-- Paid sales by product and calendar month (kpi-catalog section 3 "category_sales", product
-- level), one row per month and product with at least one paid order line placed in the month
-- (sparse: a product without paid sales in a month has no row). month is the first day of the
-- calendar month of the order's business day. paid_revenue is the lines' share of order_value
-- (int_order_items_enriched.allocated_order_value). revenue_rank is a dense rank within the
-- month by paid_revenue, highest first: tied products share a rank, the next rank follows
-- without a gap. The grain column is named `month` as the mart contract requires (RF04 waived).
-- Incremental: a month's rows depend on that month's paid lines only; a batch build rebuilds the
-- months of its config's rebuilds (a month left without paid lines loses its rows).

with
{%- if is_incremental() %}

rebuilt_months as (

    -- the months of the config's rebuilds
    select cast({{ dbt.date_trunc('month', 'business_date') }} as date) as order_month
    from {{ ref('int_batch_dates') }}
    where is_activity_date
    union all
    select cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month
    from {{ ref('int_order_facts') }}
    where
        order_id in (
            select batch_orders.order_id
            from {{ ref('int_batch_orders') }} as batch_orders
        )

),
{%- endif %}

order_lines as (

    select * from {{ ref('int_order_items_enriched') }}
    where
        is_paid
        {%- if is_incremental() %}
        and order_month in (select rebuilt_months.order_month from rebuilt_months)
        {%- endif %}

),

monthly as (

    select
        order_month,
        product_id,
        max(category) as category,
        sum(allocated_order_value) as paid_revenue,
        sum(quantity) as units_sold,
        count(distinct order_id) as paid_orders
    from order_lines
    group by order_month, product_id

),

final as (

    select
        order_month as month,  -- noqa: RF04
        product_id,
        category,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(
            dense_rank() over (partition by order_month order by paid_revenue desc)
            as {{ dbt.type_bigint() }}
        ) as revenue_rank,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders
    from monthly

)

select * from final
