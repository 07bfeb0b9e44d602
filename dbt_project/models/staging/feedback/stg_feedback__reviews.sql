with

source as (

    {{ newest_version(source('feedback', 'reviews'), ['review_id']) }}

),

renamed as (

    select
        review_id,
        order_id,
        product_id,
        customer_id,
        rating,
        review_text,
        review_ts,
        {{ to_business_date('review_ts') }} as review_date
    from source

)

select * from renamed
