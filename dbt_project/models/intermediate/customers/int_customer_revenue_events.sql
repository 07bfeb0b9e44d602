-- Money events of customers: one row per paid order (+ order_value on its order_date) and per
-- refund of a paid order (- amount on its refund_date). Net revenue of a set of orders as of a
-- date = sum(amount) over their events dated up to that date; every customer KPI that needs
-- net revenue (RFM monetary, tier spend, LTV) sums these rows.

with

orders as (

    select * from {{ ref('int_order_facts') }}

),

refunds as (

    select * from {{ ref('stg_shop__refunds') }}

),

paid_orders as (

    select
        customer_id,
        order_id,
        order_date,
        order_date as event_date,
        'order' as event_type,
        order_value as amount
    from orders
    where is_paid

),

refunds_of_paid_orders as (

    select
        paid_orders.customer_id,
        paid_orders.order_id,
        paid_orders.order_date,
        refunds.refund_date as event_date,
        'refund' as event_type,
        -refunds.amount as amount
    from refunds
    inner join paid_orders
        on refunds.order_id = paid_orders.order_id

),

unioned as (

    select * from paid_orders
    union all
    select * from refunds_of_paid_orders

),

final as (

    select
        customer_id,
        order_id,
        order_date,
        event_date,
        event_type,
        cast(amount as {{ type_money() }}) as amount
    from unioned

)

select * from final
