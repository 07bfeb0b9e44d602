{{ config(materialized='table') }}
-- A table, not a view: it aggregates every assignment against every purchase event, and
-- ab_test_results and four data tests read it.

-- A/B test counts per experiment and variant. visitors = distinct visitors assigned to the
-- variant; converters = assigned visitors with at least one purchase event at or after their
-- assignment time (any time up to the end of the data). Purchases before assignment cannot be
-- caused by the variant and do not count.

with

assignments as (

    select * from {{ ref('stg_tracking__experiment_assignments') }}

),

purchases as (

    select
        visitor_id,
        event_ts
    from {{ ref('stg_tracking__events') }}
    where event_type = 'purchase'

),

visitor_outcomes as (

    select
        assignments.experiment_id,
        assignments.variant,
        assignments.visitor_id,
        assignments.assigned_ts,
        max(case when purchases.event_ts >= assignments.assigned_ts then 1 else 0 end)
            as is_converter
    from assignments
    left join purchases
        on assignments.visitor_id = purchases.visitor_id
    group by
        assignments.experiment_id,
        assignments.variant,
        assignments.visitor_id,
        assignments.assigned_ts

),

final as (

    select
        experiment_id,
        variant,
        cast(count(*) as {{ dbt.type_bigint() }}) as visitors,
        cast(sum(is_converter) as {{ dbt.type_bigint() }}) as converters,
        min(assigned_ts) as first_assigned_at,
        max(assigned_ts) as last_assigned_at
    from visitor_outcomes
    group by experiment_id, variant

)

select * from final
