{% macro aggregate_sessions(events) -%}
    {#- int_sessions' rows: one per session of the sessionized events of `events` (a relation:
        it is read twice). A session's day, channel, device, UTM campaign are those of its first
        event; its landing page is the page_type of its first page_view. Bounce is the catalog's
        classic definition: exactly one page_view and no event other than page_view and
        impression. -#}
with

starts as (

    -- a session's first event (session_id is its event_id) gives its number, start and
    -- source; a batch build reads the re-derived events: whole sessions (resessionize_from is a
    -- session start, before and after the batch)
    select
        session_id,
        visitor_id,
        visitor_session_number,
        event_ts as started_at,
        device,
        utm_source,
        utm_medium,
        utm_campaign,
        referrer
    from {{ events }}
    where event_seq = 1

),

totals as (

    select
        session_id,
        max(customer_id) as customer_id,
        max(event_ts) as ended_at,
        max(case when page_view_seq = 1 then page_type end) as landing_page_type,
        count(*) as events,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when is_product_view then 1 else 0 end) as product_views,
        sum(
            case when event_type not in ('page_view', 'impression') then 1 else 0 end
        ) as interaction_events,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        sum(case when event_type = 'begin_checkout' then 1 else 0 end) as checkouts,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchases
    from {{ events }}
    group by session_id

),
aggregated as (

    select
        starts.session_id,
        starts.visitor_id,
        starts.visitor_session_number,
        starts.started_at,
        starts.device,
        starts.utm_source,
        starts.utm_medium,
        starts.utm_campaign,
        starts.referrer,
        totals.customer_id,
        totals.ended_at,
        totals.landing_page_type,
        totals.events,
        totals.page_views,
        totals.product_views,
        totals.interaction_events,
        totals.add_to_carts,
        totals.checkouts,
        totals.purchases
    from starts
    inner join totals on starts.session_id = totals.session_id

),

final as (

    select
        session_id,
        visitor_id,
        cast(visitor_session_number as {{ dbt.type_bigint() }}) as visitor_session_number,
        customer_id,
        started_at,
        ended_at,
        {{ to_business_ts('started_at') }} as started_at_local,
        {{ to_business_ts('ended_at') }} as ended_at_local,
        {{ to_business_date('started_at') }} as business_date,
        {{ channel_group('utm_source', 'utm_medium', 'referrer') }} as channel,
        device,
        landing_page_type,
        utm_source,
        utm_medium,
        utm_campaign,
        referrer,
        cast(events as {{ dbt.type_bigint() }}) as events,
        cast(page_views as {{ dbt.type_bigint() }}) as page_views,
        cast(product_views as {{ dbt.type_bigint() }}) as product_views,
        cast(interaction_events as {{ dbt.type_bigint() }}) as interaction_events,
        cast(purchases as {{ dbt.type_bigint() }}) as purchases,
        product_views > 0 as has_product_view,
        add_to_carts > 0 as has_add_to_cart,
        checkouts > 0 as has_begin_checkout,
        purchases > 0 as has_purchase,
        page_views = 1 and interaction_events = 0 as is_bounce,
        {{ seconds_between('started_at', 'ended_at') }} as duration_s
    from aggregated

)

select * from final
{%- endmacro %}
