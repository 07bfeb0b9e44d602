{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. An incremental build re-stages the customer_ids of the batch. -#}
{{ config(**incremental_config(
    rebuilds="customer_id in (select customer_id from {{ ref('stg_shop__customers_batch') }})"
)) }}
-- depends_on: {{ ref('stg_shop__customers_batch') }}

with

source as (

    {{ newest_version(
        source('shop', 'customers'), ['customer_id'], 'updated_ts',
        where=(
            'customer_id in (select customer_id from ' ~ ref('stg_shop__customers_batch') ~ ')'
        ) if is_incremental() else none
    ) }}

),

renamed as (

    select
        customer_id,
        signup_ts,
        {{ to_business_date('signup_ts') }} as signup_date,
        signup_channel,
        referrer_customer_id,
        birth_year,
        gender,
        region,
        city,
        updated_ts
    from source

)

select * from renamed
