{%- set weeks = var('new_product_weeks') | int %}
-- New-product sales growth (kpi-catalog section 8 "new_product_sales"), one row per product
-- launched in the data and week since launch 0 .. var('new_product_weeks').
-- Launch date: the products feed's optional launch_date when delivered for the product, else
-- its first delivery (the earliest _partition_dt of its rows in the products feed). Launched in
-- the data: a launch_date on or after the data's first day (int_date_spine); without one, a
-- first delivery after the feed's first delivery (the initial catalogue lists the products
-- that existed before the data starts) and on or after the data's first day.
-- Week w covers launch_date + 7w .. launch_date + 7w + 6 (business days); a week counts once
-- it has started within the data (the last one may be partial); weeks not reached are absent,
-- reached weeks without sales are zero rows. units_sold and paid_revenue: paid order lines of
-- the product on the order's business day (paid_revenue: the lines' allocated_order_value, as
-- category_sales). viewers: distinct visitors with a product view of the product that week.
-- conversion_rate = converted viewers / viewers, a converted viewer being a viewer whose own
-- purchase event that week is for a paid order with the product placed that week (so it lies
-- in [0, 1]; buyers who never viewed, e.g. marketplace orders, do not count). wow_growth =
-- units vs the previous week (macro growth: NULL in week 0 or when the previous week sold 0).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

product_deliveries as (

    select
        product_id,
        _partition_dt
    from {{ source('shop', 'products') }}

),

order_lines as (

    select * from {{ ref('int_order_items_enriched') }}

),

product_view_events as (

    select
        product_id,
        visitor_id,
        event_date
    from {{ ref('stg_tracking__events') }}
    where is_product_view

),

purchase_events as (

    select
        order_id,
        visitor_id
    from {{ ref('int_purchase_events') }}

),

weeks as (

    {%- for week in range(weeks + 1) %}
    select {{ week }} as weeks_since_launch
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

bounds as (

    select
        min(business_date) as first_day,
        max(business_date) as last_day
    from spine

),

first_deliveries as (

    select
        product_id,
        min(_partition_dt) as first_delivered_date,
        min(min(_partition_dt)) over () as catalogue_date
    from product_deliveries
    group by product_id

),

launches as (

    select
        products.product_id,
        coalesce(
            products.launch_date,
            case
                when first_deliveries.first_delivered_date > first_deliveries.catalogue_date
                    then first_deliveries.first_delivered_date
            end
        ) as launch_date
    from products
    left join first_deliveries
        on products.product_id = first_deliveries.product_id

),

launched as (

    select launches.*
    from launches
    cross join bounds
    where
        launches.launch_date >= bounds.first_day
        and launches.launch_date <= bounds.last_day

),

grid as (

    select
        launched.product_id,
        launched.launch_date,
        weeks.weeks_since_launch
    from launched
    cross join weeks
    cross join bounds
    where
        cast({{ dbt.dateadd(
            'day', '7 * weeks.weeks_since_launch', 'launched.launch_date'
        ) }} as date) <= bounds.last_day

),

paid_lines as (

    select
        order_lines.order_id,
        order_lines.product_id,
        order_lines.customer_id,
        order_lines.quantity,
        order_lines.allocated_order_value,
        cast(floor(
            {{ dbt.datediff('launched.launch_date', 'order_lines.order_date', 'day') }} / 7.0
        ) as {{ dbt.type_bigint() }}) as weeks_since_launch
    from order_lines
    inner join launched
        on
            order_lines.product_id = launched.product_id
            and order_lines.order_date >= launched.launch_date
    where order_lines.is_paid

),

product_views as (

    select distinct
        product_view_events.product_id,
        product_view_events.visitor_id,
        cast(floor(
            {{ dbt.datediff('launched.launch_date', 'product_view_events.event_date', 'day') }}
            / 7.0
        ) as {{ dbt.type_bigint() }}) as weeks_since_launch
    from product_view_events
    inner join launched
        on
            product_view_events.product_id = launched.product_id
            and product_view_events.event_date >= launched.launch_date

),

purchasers as (

    -- the visitor of each purchase event, with the paid lines of its order
    select distinct
        paid_lines.product_id,
        paid_lines.weeks_since_launch,
        purchase_events.visitor_id
    from purchase_events
    inner join paid_lines
        on purchase_events.order_id = paid_lines.order_id

),

sales_weekly as (

    select
        product_id,
        weeks_since_launch,
        sum(quantity) as units_sold,
        sum(allocated_order_value) as paid_revenue
    from paid_lines
    group by product_id, weeks_since_launch

),

views_weekly as (

    select
        product_views.product_id,
        product_views.weeks_since_launch,
        count(*) as viewers,
        count(purchasers.visitor_id) as converted_viewers
    from product_views
    left join purchasers
        on
            product_views.product_id = purchasers.product_id
            and product_views.weeks_since_launch = purchasers.weeks_since_launch
            and product_views.visitor_id = purchasers.visitor_id
    group by product_views.product_id, product_views.weeks_since_launch

),

weekly as (

    select
        grid.product_id,
        grid.weeks_since_launch,
        grid.launch_date,
        coalesce(sales_weekly.units_sold, 0) as units_sold,
        coalesce(sales_weekly.paid_revenue, 0) as paid_revenue,
        coalesce(views_weekly.viewers, 0) as viewers,
        coalesce(views_weekly.converted_viewers, 0) as converted_viewers
    from grid
    left join sales_weekly
        on
            grid.product_id = sales_weekly.product_id
            and grid.weeks_since_launch = sales_weekly.weeks_since_launch
    left join views_weekly
        on
            grid.product_id = views_weekly.product_id
            and grid.weeks_since_launch = views_weekly.weeks_since_launch

),

final as (

    select
        product_id,
        cast(weeks_since_launch as {{ dbt.type_bigint() }}) as weeks_since_launch,
        launch_date,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        cast(viewers as {{ dbt.type_bigint() }}) as viewers,
        {{ safe_divide('converted_viewers', 'viewers') }} as conversion_rate,
        {{ growth(
            'units_sold',
            'lag(units_sold) over (partition by product_id order by weeks_since_launch)'
        ) }} as wow_growth,
        cast(converted_viewers as {{ dbt.type_bigint() }}) as converted_viewers
    from weekly

)

select * from final
