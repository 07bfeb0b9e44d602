{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. A batch build re-stages the order_ids of the batch rows. -#}
{{ config(**incremental_config(
    replace_where="order_id in (__batch_rows(shop.order_items.order_id)__)"
)) }}
-- depends_on: {{ source('raw_replaced', 'order_items') }}

with

source as (

    {{ newest_version(
        source('shop', 'order_items'), ['order_id', 'line_number'],
        where=batch_keys_where('shop', 'order_items', 'order_id')
    ) }}

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
