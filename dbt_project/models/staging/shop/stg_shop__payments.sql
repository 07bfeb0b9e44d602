with

source as (

    {{ newest_version(source('shop', 'payments'), ['payment_id']) }}

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
