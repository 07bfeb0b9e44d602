with

source as (

    {{ newest_version(source('shop', 'products'), ['product_id'], 'updated_ts') }}

),

renamed as (

    select
        product_id,
        product_name,
        category,
        subcategory,
        brand,
        list_price,
        updated_ts,
        launch_date
    from source

)

select * from renamed
