{#- The largest feed is staged as an incremental table rather than a view: its dedupe (newest
    version per event_id) ran once per reader and per data test. An incremental build re-stages
    the event_ids of the batch: every version of such an id is re-ranked, and an id left without
    a version is deleted. -#}
{{ config(**incremental_config(
    rebuilds="event_id in (select event_id from {{ ref('stg_tracking__events_batch') }})"
)) }}
-- depends_on: {{ ref('stg_tracking__events_batch') }}

with

source as (

    {{ newest_version(
        source('tracking', 'events'),
        ['event_id'],
        where=(
            'event_id in (select event_id from ' ~ ref('stg_tracking__events_batch') ~ ')'
        ) if is_incremental() else none
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
        referrer,
        nullif(lower(trim(search_query)), '') as search_query
    from source

)

select * from renamed
