with

source as (

    {{ newest_version(source('shop', 'customers'), ['customer_id'], 'updated_ts') }}

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
