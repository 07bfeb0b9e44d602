-- Paid sales by product category (kpi-catalog section 3 "category_sales"), one row per business
-- date of int_date_spine and category: a dense grid of every day x every category seen in the
-- catalogue or on an order line, zeros on days without sales. Orders count on their order day;
-- only paid order lines count. paid_revenue is the lines' share of order_value
-- (int_order_items_enriched.allocated_order_value), so the categories of a day add up to
-- daily_sales.paid_revenue. revenue_rank is a dense rank by paid_revenue, highest first: tied
-- categories share a rank and the next rank follows without a gap (categories without sales
-- that day tie at the bottom; on a day without sales every category has rank 1).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

order_lines as (

    select * from {{ ref('int_order_items_enriched') }}

),

categories as (

    select coalesce(category, 'unknown') as category from {{ ref('stg_shop__products') }}
    union
    select category from order_lines

),

grid as (

    select
        spine.business_date,
        categories.category
    from spine
    cross join categories

),

paid_daily as (

    select
        order_date as business_date,
        category,
        sum(allocated_order_value) as paid_revenue,
        sum(quantity) as units_sold,
        count(distinct order_id) as paid_orders,
        sum(line_amount) as merchandise_value
    from order_lines
    where is_paid
    group by order_date, category

),

daily as (

    select
        grid.business_date,
        grid.category,
        cast(coalesce(paid_daily.paid_revenue, 0) as {{ type_money() }}) as paid_revenue,
        cast(coalesce(paid_daily.units_sold, 0) as {{ dbt.type_bigint() }}) as units_sold,
        cast(coalesce(paid_daily.paid_orders, 0) as {{ dbt.type_bigint() }}) as paid_orders,
        cast(
            coalesce(paid_daily.merchandise_value, 0) as {{ type_money() }}
        ) as merchandise_value
    from grid
    left join paid_daily
        on
            grid.business_date = paid_daily.business_date
            and grid.category = paid_daily.category

),

final as (

    select
        business_date,
        category,
        paid_revenue,
        units_sold,
        paid_orders,
        cast(
            dense_rank() over (partition by business_date order by paid_revenue desc)
            as {{ dbt.type_bigint() }}
        ) as revenue_rank,
        merchandise_value
    from daily

)

select * from final
