{#- The dates whose rows the batch can change: the event dates and the order dates of the
    touched orders, now and before (int_batch_dates.is_activity_date). -#}
{{ config(**incremental_config(rebuilds="
    business_date in (
        select business_date from {{ ref('int_batch_dates') }} where is_activity_date
    )
")) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Product engagement (kpi-catalog section 8 "product_engagement"), one row per business date
-- and product with any activity (sparse: a product-day without events or paid lines has no
-- row). Events count on their own business day: product_views = page views of a product page
-- naming the product, viewers = their distinct visitors, likes / comments / shares /
-- add_to_carts = events of that type naming the product. purchases = paid order lines of the
-- product (paid as in int_order_facts) on the order's business day. Events without product_id
-- count nowhere. Incremental: a batch build rebuilds the dates of its config's rebuilds (a
-- product-day left without activity loses its row).

with
{%- if is_incremental() %}

rebuilt_dates as (

    -- the dates of the config's rebuilds
    select business_date from {{ ref('int_batch_dates') }}
    where is_activity_date

),
{%- endif %}

events as (

    select * from {{ ref('stg_tracking__events') }}
    where
        product_id is not null
        and (is_product_view or event_type in ('like', 'comment', 'share', 'add_to_cart'))
        {%- if is_incremental() %}
        and event_date in (select rebuilt_dates.business_date from rebuilt_dates)
        {%- endif %}

),

order_lines as (

    select * from {{ ref('int_order_items_enriched') }}
    where
        is_paid
        {%- if is_incremental() %}
        and order_date in (select rebuilt_dates.business_date from rebuilt_dates)
        {%- endif %}

),

events_daily as (

    select
        event_date as business_date,
        product_id,
        sum(case when is_product_view then 1 else 0 end) as product_views,
        count(distinct case when is_product_view then visitor_id end) as viewers,
        sum(case when event_type = 'like' then 1 else 0 end) as likes,
        sum(case when event_type = 'comment' then 1 else 0 end) as comment_events,
        sum(case when event_type = 'share' then 1 else 0 end) as share_events,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        0 as purchases,
        0 as purchased_units
    from events
    group by event_date, product_id

),

lines_daily as (

    select
        order_date as business_date,
        product_id,
        0 as product_views,
        0 as viewers,
        0 as likes,
        0 as comment_events,
        0 as share_events,
        0 as add_to_carts,
        count(*) as purchases,
        sum(quantity) as purchased_units
    from order_lines
    where product_id is not null
    group by order_date, product_id

),

unioned as (

    select * from events_daily
    union all
    select * from lines_daily

),

daily as (

    select
        business_date,
        product_id,
        sum(product_views) as product_views,
        sum(viewers) as viewers,
        sum(likes) as likes,
        sum(comment_events) as comment_events,
        sum(share_events) as share_events,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(purchased_units) as purchased_units
    from unioned
    group by business_date, product_id

),

final as (

    select
        business_date,
        product_id,
        cast(product_views as {{ dbt.type_bigint() }}) as product_views,
        cast(viewers as {{ dbt.type_bigint() }}) as viewers,
        cast(likes as {{ dbt.type_bigint() }}) as likes,
        cast(comment_events as {{ dbt.type_bigint() }}) as comments,  -- noqa: RF04
        cast(share_events as {{ dbt.type_bigint() }}) as shares,  -- noqa: RF04
        cast(add_to_carts as {{ dbt.type_bigint() }}) as add_to_carts,
        cast(purchases as {{ dbt.type_bigint() }}) as purchases,
        {{ safe_divide('add_to_carts', 'product_views') }} as view_to_cart_rate,
        {{ safe_divide('purchases', 'product_views') }} as view_to_purchase_rate,
        cast(purchased_units as {{ dbt.type_bigint() }}) as purchased_units
    from daily

)

select * from final
