{#- A month's credits depend only on its paid orders and their journeys: a batch build rebuilds
    the credits of the months the batch can change (rebuilt_months) and keeps the others'
    from the table; the grid, spend and roas are rewritten whole (a few hundred rows). -#}
{{ config(**incremental_config(unique_key=['month', 'channel', 'attribution_model'])) }}
-- depends_on: {{ ref('int_batch_attributed_orders') }}
-- depends_on: {{ ref('int_batch_dates') }}
-- depends_on: {{ ref('int_batch_events') }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}
-- depends_on: {{ ref('int_batch_visitors') }}
{%- set batch_build = is_incremental() %}
{#- The sessions a journey can hold: in a batch build the CTE touch_sessions (those of the
    rebuilt orders); in a full build int_sessions itself, read by each branch of
    journey_sessions (a CTE read twice is materialized, every session held in memory). -#}
{%- set touch_sessions = 'touch_sessions' if batch_build else ref('int_sessions') %}

-- Multi-touch channel attribution (kpi-catalog section 8 "channel_attribution"), one row per
-- month of int_date_spine, channel and attribution_model ('first_touch', 'last_touch',
-- 'linear'): a dense grid of every month x every channel seen in the journeys or the spend
-- feed, plus 'unattributed', x the three models.
-- A paid order's journey: the sessions (int_sessions) of the visitor holding its purchase event
-- and of its customer (logged-in sessions on any device) that started within
-- var('attribution_window_days') days before the touch time, the purchase event's time (the
-- order time when the order has no tracked purchase event), ordered by start then session_id.
-- first_touch credits the first session, last_touch the last one, linear each session 1/n.
-- Revenue credits are the order's order_value split in cents so that an order's credits add
-- up to it exactly (the cumulative share rounded, as int_order_items_enriched allocates lines):
-- every model's month adds up to the month's paid revenue (daily_sales, by order day). A paid
-- order without a journey is credited whole to channel 'unattributed' under every model.
-- attributed_orders (bigint) counts the orders a channel has credit in: under linear an order
-- counts for every channel of its journey; order_credit (double) is the fractional count.
-- Incremental: a batch build re-derives the paid orders of the months it can change (the
-- touched orders' months now and before, the orders whose last-touch attribution it can change,
-- and the orders of a re-derived session's customer touched after that session can start),
-- reading only the sessions that can be their touches; the other months keep their credits.

with

spine as (

    select distinct
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month  -- noqa: RF04
    from {{ ref('int_date_spine') }}

),

purchase_sessions as (

    select * from {{ ref('int_order_purchase_sessions') }}

),

order_facts as (

    select * from {{ ref('int_order_facts') }}

),

purchase_events as (

    select * from {{ ref('int_purchase_events') }}

),

spend as (

    select * from {{ ref('stg_marketing__marketing_spend') }}

),
{%- if batch_build %}

built as (

    select * from {{ this }}

),

batch_visitors as (

    select * from {{ ref('int_batch_visitors') }}

),

rederived_events as (

    -- the events of the sessions the batch re-derives (each batch visitor's from their
    -- resessionize_from on), now and before the batch: a session's customer is one of theirs
    select
        visitor_id,
        customer_id
    from {{ ref('int_batch_sessionized_events') }}
    union
    select
        visitor_id,
        customer_id
    from {{ ref('int_batch_events') }}

),

rederived_customers as (

    select
        rederived_events.customer_id,
        min(batch_visitors.resessionize_from) as rederived_from
    from rederived_events
    inner join batch_visitors
        on rederived_events.visitor_id = batch_visitors.visitor_id
    where rederived_events.customer_id is not null
    group by rederived_events.customer_id

),

rebuilt_orders as (

    -- the orders whose facts or purchase session the batch can change (their visitor's
    -- journey among them: a purchase event after resessionize_from is re-derived), and the
    -- orders of a re-derived session's customer touched after that session can start
    select order_id from {{ ref('int_batch_attributed_orders') }}
    union
    select purchase_sessions.order_id
    from purchase_sessions
    inner join rederived_customers
        on purchase_sessions.customer_id = rederived_customers.customer_id
    inner join order_facts
        on purchase_sessions.order_id = order_facts.order_id
    where
        coalesce(purchase_sessions.purchase_event_ts, order_facts.order_ts)
        >= rederived_customers.rederived_from

),

rebuilt_months as (

    -- the months of the rebuilt orders, and of the touched orders' order dates before the
    -- batch (int_batch_dates' activity dates, with the event dates)
    select cast({{ dbt.date_trunc('month', 'order_date') }} as date) as month  -- noqa: RF04
    from purchase_sessions
    where order_id in (select rebuilt_orders.order_id from rebuilt_orders)
    union
    select cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month  -- noqa: RF04
    from {{ ref('int_batch_dates') }}
    where is_activity_date

),
{%- endif %}

models as (

    select 'first_touch' as attribution_model
    union all
    select 'last_touch' as attribution_model
    union all
    select 'linear' as attribution_model

),

paid_orders as (

    select
        purchase_sessions.order_id,
        purchase_sessions.customer_id,
        cast(
            {{ dbt.date_trunc('month', 'purchase_sessions.order_date') }} as date
        ) as order_month,
        purchase_sessions.order_value,
        purchase_visits.visitor_id,
        coalesce(purchase_sessions.purchase_event_ts, order_facts.order_ts) as touch_ts
    from purchase_sessions
    inner join order_facts
        on purchase_sessions.order_id = order_facts.order_id
    left join purchase_events as purchase_visits
        on purchase_sessions.purchase_event_id = purchase_visits.event_id
    where
        purchase_sessions.is_paid
        {%- if batch_build %}
        and cast({{ dbt.date_trunc('month', 'purchase_sessions.order_date') }} as date)
        in (select rebuilt_months.month from rebuilt_months)
        {%- endif %}

),

{%- if batch_build %}

touch_sessions as (

    -- the sessions that can be in the rebuilt orders' journeys
    select
        session_id,
        visitor_id,
        customer_id,
        started_at,
        channel
    from {{ ref('int_sessions') }}
    where
        started_at <= (select max(paid_orders.touch_ts) from paid_orders)
        and started_at >= (
            select min({{ dbt.dateadd(
                'day', '-1 * ' ~ var('attribution_window_days'), 'paid_orders.touch_ts'
            ) }})
            from paid_orders
        )

),
{%- endif %}

journey_sessions as (

    -- the visitor's sessions, then the customer's (union: a session matching both counts once)
    select
        paid_orders.order_id,
        touch_sessions.session_id,
        touch_sessions.started_at,
        touch_sessions.channel
    from paid_orders
    inner join {{ touch_sessions }} as touch_sessions
        on
            paid_orders.visitor_id = touch_sessions.visitor_id
            and paid_orders.touch_ts >= touch_sessions.started_at
            and {{ dbt.dateadd(
                'day', '-1 * ' ~ var('attribution_window_days'), 'paid_orders.touch_ts'
            ) }} <= touch_sessions.started_at
    union
    select
        paid_orders.order_id,
        touch_sessions.session_id,
        touch_sessions.started_at,
        touch_sessions.channel
    from paid_orders
    inner join {{ touch_sessions }} as touch_sessions
        on
            paid_orders.customer_id = touch_sessions.customer_id
            and paid_orders.touch_ts >= touch_sessions.started_at
            and {{ dbt.dateadd(
                'day', '-1 * ' ~ var('attribution_window_days'), 'paid_orders.touch_ts'
            ) }} <= touch_sessions.started_at

),

touches as (

    select
        order_id,
        session_id,
        channel,
        row_number() over (
            partition by order_id
            order by started_at, session_id
        ) as touch_number,
        count(*) over (partition by order_id) as touch_count
    from journey_sessions

),

credits as (

    -- one row per order, model and credited touch: its channel, its share of the order
    -- (order_credit) and of the order's value (revenue_credit; linear: the rounded cumulative
    -- share up to this touch minus the one before it)
    select
        touches.order_id,
        'first_touch' as attribution_model,
        touches.channel,
        1.0 as order_credit,
        paid_orders.order_value as revenue_credit
    from touches
    inner join paid_orders
        on touches.order_id = paid_orders.order_id
    where touches.touch_number = 1
    union all
    select
        touches.order_id,
        'last_touch' as attribution_model,
        touches.channel,
        1.0 as order_credit,
        paid_orders.order_value as revenue_credit
    from touches
    inner join paid_orders
        on touches.order_id = paid_orders.order_id
    where touches.touch_number = touches.touch_count
    union all
    select
        touches.order_id,
        'linear' as attribution_model,
        touches.channel,
        1.0 / touches.touch_count as order_credit,
        -- in whole cents, rounded half up exactly: floor((2 x cents x n + N) / 2N)
        cast(
            (
                floor(
                    (
                        2 * cast(paid_orders.order_value * 100 as double) * touches.touch_number
                        + touches.touch_count
                    )
                    / (2 * touches.touch_count)
                )
                - floor(
                    (
                        2 * cast(paid_orders.order_value * 100 as double)
                        * (touches.touch_number - 1)
                        + touches.touch_count
                    )
                    / (2 * touches.touch_count)
                )
            )
            / 100 as {{ type_money() }}
        ) as revenue_credit
    from touches
    inner join paid_orders
        on touches.order_id = paid_orders.order_id
    union all
    select
        paid_orders.order_id,
        models.attribution_model,
        'unattributed' as channel,
        1.0 as order_credit,
        paid_orders.order_value as revenue_credit
    from paid_orders
    cross join models
    where paid_orders.order_id not in (select touches.order_id from touches)

),

order_credits_monthly as (

    select
        paid_orders.order_month as month,  -- noqa: RF04
        credits.channel,
        credits.attribution_model,
        count(distinct credits.order_id) as attributed_orders,
        sum(credits.order_credit) as order_credit,
        sum(credits.revenue_credit) as attributed_revenue
    from credits
    inner join paid_orders
        on credits.order_id = paid_orders.order_id
    group by paid_orders.order_month, credits.channel, credits.attribution_model

),

credits_monthly as (

    -- a batch build: the rebuilt months' credits, and the other months' as built
    select * from order_credits_monthly
    {%- if batch_build %}
    union all
    select
        month,
        channel,
        attribution_model,
        attributed_orders,
        order_credit,
        attributed_revenue
    from built
    where month not in (select rebuilt_months.month from rebuilt_months)
    {%- endif %}

),

spend_monthly as (

    select
        cast({{ dbt.date_trunc('month', 'spend_date') }} as date) as month,  -- noqa: RF04
        channel,
        sum(spend) as spend
    from spend
    group by cast({{ dbt.date_trunc('month', 'spend_date') }} as date), channel

),

channels as (

    select channel from credits_monthly
    union
    select channel from spend_monthly
    union
    select 'unattributed' as channel

),

grid as (

    select
        spine.month,
        channels.channel,
        models.attribution_model
    from spine
    cross join channels
    cross join models

),

final as (

    select
        grid.month,
        grid.channel,
        grid.attribution_model,
        cast(
            coalesce(credits_monthly.attributed_orders, 0) as {{ dbt.type_bigint() }}
        ) as attributed_orders,
        cast(
            coalesce(credits_monthly.attributed_revenue, 0) as {{ type_money() }}
        ) as attributed_revenue,
        cast(coalesce(spend_monthly.spend, 0) as {{ type_money() }}) as spend,
        {{ safe_divide(
            'coalesce(credits_monthly.attributed_revenue, 0)', 'spend_monthly.spend'
        ) }} as roas,
        cast(coalesce(credits_monthly.order_credit, 0) as double) as order_credit
    from grid
    left join credits_monthly
        on
            grid.month = credits_monthly.month
            and grid.channel = credits_monthly.channel
            and grid.attribution_model = credits_monthly.attribution_model
    left join spend_monthly
        on
            grid.month = spend_monthly.month
            and grid.channel = spend_monthly.channel

)

select * from final
