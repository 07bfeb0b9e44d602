{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. An incremental build re-stages the order_ids of the batch. -#}
{{ config(**incremental_config(
    rebuilds="order_id in (select order_id from {{ ref('stg_shop__orders_batch') }})"
)) }}
-- depends_on: {{ ref('stg_shop__orders_batch') }}

with

source as (

    {{ newest_version(
        source('shop', 'orders'), ['order_id'], 'updated_ts',
        where=(
            'order_id in (select order_id from ' ~ ref('stg_shop__orders_batch') ~ ')'
        ) if is_incremental() else none
    ) }}

),

renamed as (

    select
        order_id,
        customer_id,
        order_ts,
        {{ to_business_date('order_ts') }} as order_date,
        platform,
        status,
        nullif(trim(coupon_code), '') as coupon_code,
        nullif(trim(coupon_code), '') is not null as has_coupon,
        coalesce(discount_amount, 0) as discount_amount,
        coalesce(shipping_fee, 0) as shipping_fee,
        promised_delivery_date,
        shipped_ts,
        delivered_ts,
        {{ to_business_date('delivered_ts') }} as delivered_date,
        cancelled_ts,
        updated_ts
    from source

)

select * from renamed
