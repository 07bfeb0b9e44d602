-- Last-touch attribution of orders (kpi-catalog section 5): an order belongs to the channel and
-- campaign of the session holding its purchase event. Orders without a purchase event (placed
-- outside the tracked site/app, e.g. on marketplaces) have no row. Should an order have several
-- purchase events, the first one (event_ts, then event_id) decides.

with

purchase_events as (

    select
        order_id,
        session_id,
        event_ts,
        event_id
    from {{ ref('int_events_sessionized') }}
    where event_type = 'purchase' and order_id is not null

),

ranked as (

    select
        order_id,
        session_id,
        event_ts,
        row_number() over (
            partition by order_id
            order by event_ts, event_id
        ) as purchase_rank
    from purchase_events

),

sessions as (

    select * from {{ ref('int_sessions') }}

),

final as (

    select
        ranked.order_id,
        ranked.session_id,
        ranked.event_ts as purchase_event_at,
        sessions.channel,
        sessions.utm_campaign as campaign_id
    from ranked
    inner join sessions
        on ranked.session_id = sessions.session_id
    where ranked.purchase_rank = 1

)

select * from final
