{{ config(materialized='table') }}
-- A table, not a view: ab_test_results and four data tests read it.

-- A/B test counts per experiment and variant. visitors = distinct visitors assigned to the
-- variant (one assignment per experiment and visitor); converters = assigned visitors with at
-- least one purchase event at or after their assignment time (int_experiment_visitor_outcomes).

with

outcomes as (

    select * from {{ ref('int_experiment_visitor_outcomes') }}

),

final as (

    select
        experiment_id,
        variant,
        cast(count(*) as {{ dbt.type_bigint() }}) as visitors,
        cast(
            sum(case when is_converter then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as converters,
        min(assigned_ts) as first_assigned_at,
        max(assigned_ts) as last_assigned_at
    from outcomes
    group by experiment_id, variant

)

select * from final
