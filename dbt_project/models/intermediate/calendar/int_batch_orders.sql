{{ config(materialized='table') }}

-- The orders the batch touches (see macro batch_rows): every order with a batch row in orders,
-- order_items, payments or refunds (touched_by 'order': its facts are rebuilt), and every order
-- with a line of a product with a batch row (touched_by 'product': its lines' category is
-- re-read). With the customer each order belongs to now and, for a re-delivered order row,
-- belonged to before.

with

batch_orders as (

    {{ batch_rows('shop', 'orders', ['order_id', 'customer_id']) }}

),

batch_order_items as (

    {{ batch_rows('shop', 'order_items', ['order_id']) }}

),

batch_payments as (

    {{ batch_rows('shop', 'payments', ['order_id']) }}

),

batch_refunds as (

    {{ batch_rows('shop', 'refunds', ['order_id']) }}

),

batch_products as (

    {{ batch_rows('shop', 'products', ['product_id']) }}

),

order_ids as (

    select order_id from batch_orders
    union
    select order_id from batch_order_items
    union
    select order_id from batch_payments
    union
    select order_id from batch_refunds

),

product_order_ids as (

    select order_items.order_id
    from {{ ref('stg_shop__order_items') }} as order_items
    where order_items.product_id in (select batch_products.product_id from batch_products)

),

touched as (

    select
        order_id,
        'order' as touched_by
    from order_ids
    union
    select
        order_id,
        'product' as touched_by
    from product_order_ids
    where order_id not in (select order_ids.order_id from order_ids)

),

customers as (

    select
        orders.order_id,
        orders.customer_id
    from {{ ref('stg_shop__orders') }} as orders
    where orders.order_id in (select touched.order_id from touched)
    union
    select
        order_id,
        customer_id
    from batch_orders

),

final as (

    select distinct
        touched.order_id,
        customers.customer_id,
        touched.touched_by
    from touched
    left join customers
        on touched.order_id = customers.order_id
    where touched.order_id is not null
    -- a --full-refresh reads no batch model: empty
        and {{ has_batch() }}

)

select * from final
