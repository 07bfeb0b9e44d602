{#-
    The largest feed (tens of millions of rows) is staged as an incremental table rather than a
    view: its dedupe (newest version per event_id) ran once per reader and per data test. An
    incremental build re-stages the event_ids of the batch (raw rows loaded, or moved to
    raw_replaced, after batch_since): every version of such an id is re-ranked, and an id left
    without a version is deleted (placeholder __batch_rows(...)__, see replace_where_predicate).
-#}
{{ config(**incremental_config(
    replace_where="event_id in (__batch_rows(tracking.events.event_id)__)"
)) }}
-- depends_on: {{ source('raw_replaced', 'events') }}

with

source as (

    {{ newest_version(
        source('tracking', 'events'),
        ['event_id'],
        where=batch_keys_where('tracking', 'events', 'event_id')
    ) }}

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
