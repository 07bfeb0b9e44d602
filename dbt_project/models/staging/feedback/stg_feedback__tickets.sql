with

source as (

    {{ newest_version(source('feedback', 'tickets'), ['ticket_id']) }}

),

renamed as (

    select
        ticket_id,
        customer_id,
        order_id,
        category,
        is_complaint,
        opened_ts,
        {{ to_business_date('opened_ts') }} as opened_date,
        first_response_ts,
        resolved_ts,
        channel
    from source

)

select * from renamed
