{{ config(**incremental_config(rebuilds="
    order_id in (select order_id from {{ ref('int_batch_orders') }} where touched_by = 'order')
")) }}
-- depends_on: {{ ref('int_batch_orders') }}
{%- set touched_orders_only %}
{%- if is_incremental() %}
    where order_id in (
        select order_id from {{ ref('int_batch_orders') }} where touched_by = 'order'
    )
{%- endif %}
{%- endset %}

-- One row per order with its value, payment, refund and fulfilment facts. An order is paid when
-- it has at least one successful payment attempt (kpi-catalog "Paid order"), whatever its status.
-- merchandise_value = sum of quantity x unit_price; order_value = merchandise_value
-- - discount_amount + shipping_fee.
-- Incremental: the orders the batch touches (int_batch_orders) are rebuilt whole.

with

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {{- touched_orders_only }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}
    {{- touched_orders_only }}

),

payments as (

    select * from {{ ref('stg_shop__payments') }}
    {{- touched_orders_only }}

),

refunds as (

    select * from {{ ref('stg_shop__refunds') }}
    {{- touched_orders_only }}

),

items_per_order as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(line_amount) as merchandise_value
    from order_items
    group by order_id

),

payments_per_order as (

    select
        order_id,
        count(*) as payment_attempts,
        sum(case when is_success then 1 else 0 end) as successful_payments,
        min(case when is_success then attempt_ts end) as first_paid_at,
        sum(case when is_success then amount else 0 end) as paid_amount
    from payments
    group by order_id

),

refunds_per_order as (

    select
        order_id,
        count(*) as refund_count,
        sum(amount) as refunded_amount,
        {{ dbt.bool_or('coalesce(is_return, false)') }} as has_return_refund,
        min(refund_ts) as first_refund_at
    from refunds
    group by order_id

),

joined as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_ts,
        orders.order_date,
        orders.platform,
        orders.status,
        orders.coupon_code,
        orders.has_coupon,
        coalesce(items_per_order.line_count, 0) as line_count,
        coalesce(items_per_order.units, 0) as units,
        coalesce(items_per_order.merchandise_value, 0) as merchandise_value,
        orders.discount_amount,
        orders.shipping_fee,
        coalesce(payments_per_order.payment_attempts, 0) as payment_attempts,
        coalesce(payments_per_order.successful_payments, 0) as successful_payments,
        payments_per_order.first_paid_at,
        coalesce(payments_per_order.paid_amount, 0) as paid_amount,
        coalesce(refunds_per_order.refund_count, 0) as refund_count,
        coalesce(refunds_per_order.refunded_amount, 0) as refunded_amount,
        coalesce(refunds_per_order.has_return_refund, false) as has_return_refund,
        refunds_per_order.first_refund_at,
        orders.cancelled_ts,
        orders.shipped_ts,
        orders.delivered_ts,
        orders.delivered_date,
        orders.promised_delivery_date
    from orders
    left join items_per_order
        on orders.order_id = items_per_order.order_id
    left join payments_per_order
        on orders.order_id = payments_per_order.order_id
    left join refunds_per_order
        on orders.order_id = refunds_per_order.order_id

),

final as (

    select
        order_id,
        customer_id,
        order_ts,
        {{ to_business_ts('order_ts') }} as order_ts_local,
        order_date,
        platform,
        status,
        coupon_code,
        has_coupon,
        cast(line_count as {{ dbt.type_bigint() }}) as line_count,
        cast(units as {{ dbt.type_bigint() }}) as units,
        cast(merchandise_value as {{ type_money() }}) as merchandise_value,
        cast(discount_amount as {{ type_money() }}) as discount_amount,
        cast(shipping_fee as {{ type_money() }}) as shipping_fee,
        cast(
            merchandise_value - discount_amount + shipping_fee as {{ type_money() }}
        ) as order_value,
        cast(payment_attempts as {{ dbt.type_bigint() }}) as payment_attempts,
        cast(
            payment_attempts - successful_payments as {{ dbt.type_bigint() }}
        ) as failed_payment_attempts,
        successful_payments > 0 as is_paid,
        first_paid_at,
        {{ to_business_date('first_paid_at') }} as paid_date,
        cast(paid_amount as {{ type_money() }}) as paid_amount,
        cast(refund_count as {{ dbt.type_bigint() }}) as refund_count,
        cast(refunded_amount as {{ type_money() }}) as refunded_amount,
        refund_count > 0 as has_refund,
        has_return_refund or status = 'returned' as has_return,
        first_refund_at,
        status = 'cancelled' or cancelled_ts is not null as is_cancelled,
        cancelled_ts as cancelled_at,
        shipped_ts as shipped_at,
        delivered_ts as delivered_at,
        delivered_date,
        promised_delivery_date,
        delivered_ts is not null as is_delivered,
        {{ safe_divide(seconds_between('first_paid_at', 'delivered_ts'), 86400) }} as delivery_days,
        case
            when delivered_date is not null and promised_delivery_date is not null
                then delivered_date <= promised_delivery_date
        end as is_delivered_on_time
    from joined

)

select * from final
