{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. A batch build re-stages the customer_ids of the batch rows. -#}
{{ config(**incremental_config(
    replace_where="customer_id in (__batch_rows(shop.customers.customer_id)__)"
)) }}
-- depends_on: {{ source('raw_replaced', 'customers') }}

with

source as (

    {{ newest_version(
        source('shop', 'customers'), ['customer_id'], 'updated_ts',
        where=batch_keys_where('shop', 'customers', 'customer_id')
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
