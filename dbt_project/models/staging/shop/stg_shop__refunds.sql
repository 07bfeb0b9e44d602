with

source as (

    {{ newest_version(source('shop', 'refunds'), ['refund_id']) }}

),

renamed as (

    select
        refund_id,
        order_id,
        refund_ts,
        {{ to_business_date('refund_ts') }} as refund_date,
        amount,
        reason,
        is_return
    from source

)

select * from renamed
