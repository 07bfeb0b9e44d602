{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. An incremental build re-stages the order_ids of the batch. -#}
{{ config(**incremental_config(
    rebuilds="order_id in (select order_id from {{ ref('stg_shop__order_items_batch') }})"
)) }}
-- depends_on: {{ ref('stg_shop__order_items_batch') }}

with

source as (

    {{ newest_version(
        source('shop', 'order_items'), ['order_id', 'line_number'],
        where=(
            'order_id in (select order_id from ' ~ ref('stg_shop__order_items_batch') ~ ')'
        ) if is_incremental() else none
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
