with

source as (

    {{ newest_version(source('tracking', 'events'), ['event_id']) }}

),

renamed as (

    select
        event_id,
        event_ts,
        {{ to_business_date('event_ts') }} as event_date,
        visitor_id,
        customer_id,
        event_type,
        page_type,
        coalesce(event_type = 'page_view' and page_type = 'product', false) as is_product_view,
        product_id,
        order_id,
        placement,
        device,
        utm_source,
        utm_medium,
        utm_campaign,
        referrer
    from source

)

select * from renamed
