{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. An incremental build re-stages the payment_ids of the batch. -#}
{{ config(**incremental_config(
    rebuilds="payment_id in (select payment_id from {{ ref('stg_shop__payments_batch') }})"
)) }}
-- depends_on: {{ ref('stg_shop__payments_batch') }}

with

source as (

    {{ newest_version(
        source('shop', 'payments'), ['payment_id'],
        where=(
            'payment_id in (select payment_id from ' ~ ref('stg_shop__payments_batch') ~ ')'
        ) if is_incremental() else none
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
