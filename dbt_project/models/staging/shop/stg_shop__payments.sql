{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. A batch build re-stages the payment_ids of the batch rows. -#}
{{ config(**incremental_config(
    replace_where="payment_id in (__batch_rows(shop.payments.payment_id)__)"
)) }}
-- depends_on: {{ source('raw_replaced', 'payments') }}

with

source as (

    {{ newest_version(
        source('shop', 'payments'), ['payment_id'],
        where=batch_keys_where('shop', 'payments', 'payment_id')
    ) }}

),

renamed as (

    select
        payment_id,
        order_id,
        attempt_ts,
        {{ to_business_date('attempt_ts') }} as attempt_date,
        method,
        amount,
        status,
        status = 'success' as is_success
    from source

)

select * from renamed
