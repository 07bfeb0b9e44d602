{{ config(materialized='table') }}
-- A table, not a view: the churn_risk asset reads it whole (customers x snapshots).
{%- set snapshot_step_days = 30 %}
{%- set recent_days = 90 %}

-- Churn features and labels (kpi-catalog section 8, churn_risk): one row per customer with a
-- paid order and snapshot date. Snapshot dates: the customer snapshot date (as_of_date) and
-- every 30 days before it within the data. Features use only what is dated up to the snapshot:
-- RFM as in customer_snapshot (var rfm_window_days), tenure, paid orders, tickets, complaints
-- and active days (logged-in events) in the last 90 days, reviews in the RFM window. Label:
-- no paid order in the var churn_horizon_days days after the snapshot, known only when those
-- days end on or before as_of_date (else NULL).

with

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

spine as (

    select * from {{ ref('int_date_spine') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

revenue_events as (

    select * from {{ ref('int_customer_revenue_events') }}

),

tickets as (

    select * from {{ ref('int_tickets_measured') }}

),

reviews as (

    select * from {{ ref('int_reviews_rated') }}

),

activity as (

    select * from {{ ref('int_customer_daily_activity') }}

),

snapshots as (

    select
        spine.business_date as snapshot_date,
        snapshot_date.as_of_date,
        spine.business_date = snapshot_date.as_of_date as is_latest_snapshot,
        cast(
            {{ dbt.dateadd('day', 1 - recent_days, 'spine.business_date') }} as date
        ) as recent_start_date,
        cast(
            {{ dbt.dateadd('day', '1 - ' ~ var('rfm_window_days'), 'spine.business_date') }}
            as date
        ) as window_start_date,
        cast(
            {{ dbt.dateadd('day', var('churn_horizon_days'), 'spine.business_date') }} as date
        ) as horizon_end_date
    from spine
    cross join snapshot_date
    where
        spine.business_date <= snapshot_date.as_of_date
        and mod(
            {{ dbt.datediff('spine.business_date', 'snapshot_date.as_of_date', 'day') }},
            {{ snapshot_step_days }}
        ) = 0

),

money_to_date as (

    select
        snapshots.snapshot_date,
        revenue_events.customer_id,
        max(
            case when revenue_events.event_type = 'order' then revenue_events.order_date end
        ) as last_paid_order_date,
        sum(
            case
                when
                    revenue_events.event_type = 'order'
                    and revenue_events.order_date >= snapshots.window_start_date
                    then 1
                else 0
            end
        ) as frequency,
        sum(
            case
                when revenue_events.order_date >= snapshots.window_start_date
                    then revenue_events.amount
                else 0
            end
        ) as monetary,
        sum(
            case
                when
                    revenue_events.event_type = 'order'
                    and revenue_events.order_date >= snapshots.recent_start_date
                    then 1
                else 0
            end
        ) as paid_orders_recent
    from snapshots
    inner join revenue_events
        on snapshots.snapshot_date >= revenue_events.event_date
    group by snapshots.snapshot_date, revenue_events.customer_id

),

orders_in_horizon as (

    select distinct
        snapshots.snapshot_date,
        revenue_events.customer_id
    from snapshots
    inner join revenue_events
        on
            snapshots.snapshot_date < revenue_events.order_date
            and snapshots.horizon_end_date >= revenue_events.order_date
    where revenue_events.event_type = 'order'

),

tickets_recent as (

    select
        snapshots.snapshot_date,
        tickets.customer_id,
        count(*) as tickets,
        sum(case when tickets.is_complaint then 1 else 0 end) as complaints
    from snapshots
    inner join tickets
        on tickets.opened_date between snapshots.recent_start_date and snapshots.snapshot_date
    where tickets.customer_id is not null
    group by snapshots.snapshot_date, tickets.customer_id

),

reviews_in_window as (

    select
        snapshots.snapshot_date,
        reviews.customer_id,
        count(*) as reviews,
        sum(case when reviews.is_negative then 1 else 0 end) as negative_reviews
    from snapshots
    inner join reviews
        on reviews.review_date between snapshots.window_start_date and snapshots.snapshot_date
    where reviews.customer_id is not null
    group by snapshots.snapshot_date, reviews.customer_id

),

active_days_recent as (

    select
        snapshots.snapshot_date,
        activity.customer_id,
        count(*) as active_days
    from snapshots
    inner join activity
        on activity.business_date between snapshots.recent_start_date and snapshots.snapshot_date
    where activity.has_logged_in_event
    group by snapshots.snapshot_date, activity.customer_id

),

final as (

    select
        snapshots.snapshot_date,
        money_to_date.customer_id,
        snapshots.is_latest_snapshot,
        cast(
            {{ dbt.datediff(
                'money_to_date.last_paid_order_date', 'snapshots.snapshot_date', 'day'
            ) }} as {{ dbt.type_bigint() }}
        ) as recency_days,
        cast(money_to_date.frequency as {{ dbt.type_bigint() }}) as frequency,
        cast(money_to_date.monetary as {{ type_money() }}) as monetary,
        cast(
            {{ dbt.datediff('customers.signup_date', 'snapshots.snapshot_date', 'day') }}
            as {{ dbt.type_bigint() }}
        ) as tenure_days,
        cast(money_to_date.paid_orders_recent as {{ dbt.type_bigint() }}) as paid_orders_90d,
        cast(coalesce(tickets_recent.tickets, 0) as {{ dbt.type_bigint() }}) as tickets_90d,
        cast(
            coalesce(tickets_recent.complaints, 0) as {{ dbt.type_bigint() }}
        ) as complaints_90d,
        cast(coalesce(reviews_in_window.reviews, 0) as {{ dbt.type_bigint() }}) as reviews,
        cast(
            coalesce(reviews_in_window.negative_reviews, 0) as {{ dbt.type_bigint() }}
        ) as negative_reviews,
        cast(
            coalesce(active_days_recent.active_days, 0) as {{ dbt.type_bigint() }}
        ) as active_days_90d,
        snapshots.horizon_end_date,
        snapshots.horizon_end_date <= snapshots.as_of_date as is_horizon_observed,
        case
            when snapshots.horizon_end_date <= snapshots.as_of_date
                then orders_in_horizon.customer_id is null
        end as is_churned
    from money_to_date
    inner join snapshots
        on money_to_date.snapshot_date = snapshots.snapshot_date
    inner join customers
        on money_to_date.customer_id = customers.customer_id
    left join orders_in_horizon
        on
            money_to_date.snapshot_date = orders_in_horizon.snapshot_date
            and money_to_date.customer_id = orders_in_horizon.customer_id
    left join tickets_recent
        on
            money_to_date.snapshot_date = tickets_recent.snapshot_date
            and money_to_date.customer_id = tickets_recent.customer_id
    left join reviews_in_window
        on
            money_to_date.snapshot_date = reviews_in_window.snapshot_date
            and money_to_date.customer_id = reviews_in_window.customer_id
    left join active_days_recent
        on
            money_to_date.snapshot_date = active_days_recent.snapshot_date
            and money_to_date.customer_id = active_days_recent.customer_id

)

select * from final
