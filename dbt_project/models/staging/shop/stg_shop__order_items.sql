with

source as (

    {{ newest_version(source('shop', 'order_items'), ['order_id', 'line_number']) }}

),

renamed as (

    select
        order_id,
        line_number,
        {{ dbt.concat(
            ['order_id', "'-'", 'cast(line_number as ' ~ dbt.type_string() ~ ')']
        ) }} as order_item_id,
        product_id,
        quantity,
        unit_price,
        quantity * unit_price as line_amount
    from source

)

select * from renamed
