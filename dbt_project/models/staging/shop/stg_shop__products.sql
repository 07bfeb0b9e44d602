with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        product_id,
        product_name,
        category,
        subcategory,
        brand,
        list_price,
        updated_ts
    from source

)

select * from renamed
