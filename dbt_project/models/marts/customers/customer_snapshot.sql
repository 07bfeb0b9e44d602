-- Per-customer snapshot (kpi-catalog section 4) as of the snapshot date
-- (int_customer_snapshot_date): every customer signed up on or before it. Uses paid orders
-- placed up to the snapshot date and their refunds dated up to it
-- (int_customer_revenue_events). RFM window and tier window: the snapshot date and the
-- var rfm_window_days - 1 / var tier_window_days - 1 days before it (365 days by default).
-- Scores: macro quintile_score over the buyers (customers with a paid order up to the
-- snapshot); customers without one get NULL recency and scores, frequency and monetary 0,
-- rfm_segment prospect. Segment map: see the model docs. activity_tier: member_tier's spend
-- thresholds plus var tier_min_active_months calendar months with a paid order in the tier
-- window (macro activity_tier).

with

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

revenue_events as (

    select * from {{ ref('int_customer_revenue_events') }}

),

events_to_date as (

    select
        revenue_events.*,
        snapshot_date.as_of_date,
        {{ dbt.datediff('revenue_events.order_date', 'snapshot_date.as_of_date', 'day') }}
            as order_days_ago
    from revenue_events
    cross join snapshot_date
    where revenue_events.event_date <= snapshot_date.as_of_date

),

per_customer as (

    select
        customer_id,
        min(case when event_type = 'order' then order_date end) as first_paid_order_date,
        max(case when event_type = 'order' then order_date end) as last_paid_order_date,
        sum(
            case
                when event_type = 'order' and order_days_ago < {{ var('rfm_window_days') }}
                    then 1
                else 0
            end
        ) as frequency,
        sum(
            case when order_days_ago < {{ var('rfm_window_days') }} then amount else 0 end
        ) as monetary,
        sum(
            case
                when event_type = 'order' and order_days_ago < {{ var('rfm_window_days') }}
                    then amount
                else 0
            end
        ) as paid_revenue_window,
        sum(
            case when order_days_ago < {{ var('tier_window_days') }} then amount else 0 end
        ) as net_spend_365d,
        count(
            distinct case
                when event_type = 'order' and order_days_ago < {{ var('tier_window_days') }}
                    then cast({{ dbt.date_trunc('month', 'order_date') }} as date)
            end
        ) as active_months_365d
    from events_to_date
    group by customer_id

),

snapshot_customers as (

    select
        snapshot_date.as_of_date,
        customers.customer_id,
        customers.signup_date,
        per_customer.first_paid_order_date,
        per_customer.last_paid_order_date,
        {{ dbt.datediff('per_customer.last_paid_order_date', 'snapshot_date.as_of_date', 'day') }}
            as recency_days,
        coalesce(per_customer.frequency, 0) as frequency,
        coalesce(per_customer.monetary, 0) as monetary,
        coalesce(per_customer.paid_revenue_window, 0) as paid_revenue_window,
        coalesce(per_customer.net_spend_365d, 0) as net_spend_365d,
        coalesce(per_customer.active_months_365d, 0) as active_months_365d
    from customers
    cross join snapshot_date
    left join per_customer
        on customers.customer_id = per_customer.customer_id
    where customers.signup_date <= snapshot_date.as_of_date

),

buyer_scores as (

    select
        customer_id,
        {{ quintile_score('recency_days desc') }} as r_score,
        {{ quintile_score('frequency') }} as f_score,
        {{ quintile_score('monetary') }} as m_score
    from snapshot_customers
    where last_paid_order_date is not null

),

scored as (

    select
        snapshot_customers.*,
        buyer_scores.r_score,
        buyer_scores.f_score,
        buyer_scores.m_score
    from snapshot_customers
    left join buyer_scores
        on snapshot_customers.customer_id = buyer_scores.customer_id

),

final as (

    select
        as_of_date,
        customer_id,
        cast(recency_days as {{ dbt.type_int() }}) as recency_days,
        cast(frequency as {{ dbt.type_bigint() }}) as frequency,
        cast(monetary as {{ type_money() }}) as monetary,
        r_score,
        f_score,
        m_score,
        case
            when r_score is null then 'prospect'
            when r_score >= 4 and f_score >= 4 then 'champions'
            when r_score >= 3 and f_score >= 3 then 'loyal'
            when r_score >= 4 and f_score = 1 then 'new'
            when r_score >= 3 then 'potential_loyalist'
            when f_score >= 4 and m_score >= 4 then 'cannot_lose'
            when f_score >= 3 then 'at_risk'
            when r_score = 2 then 'hibernating'
            else 'lost'
        end as rfm_segment,
        {{ lifecycle_stage('first_paid_order_date', 'last_paid_order_date', 'as_of_date') }}
            as lifecycle_stage,
        {{ member_tier('net_spend_365d') }} as member_tier,
        cast(net_spend_365d as {{ type_money() }}) as net_spend_365d,
        signup_date,
        first_paid_order_date,
        last_paid_order_date,
        cast(paid_revenue_window as {{ type_money() }}) as paid_revenue_window,
        {{ activity_tier('net_spend_365d', 'active_months_365d') }} as activity_tier,
        cast(active_months_365d as {{ dbt.type_bigint() }}) as active_months_365d
    from scored

)

select * from final
