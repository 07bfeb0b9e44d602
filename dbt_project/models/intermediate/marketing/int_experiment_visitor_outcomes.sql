{#- The visitors whose outcome the batch can change: a version of one of their purchase events
    is in the batch (added, moved, re-typed or removed), or one of their assignment rows. -#}
{{ config(**incremental_config(rebuilds="
    visitor_id in (
        select visitor_id from {{ ref('int_batch_events') }} where event_type = 'purchase'
        union all
        select visitor_id from {{ ref('stg_tracking__experiment_assignments_batch') }}
    )
")) }}
-- depends_on: {{ ref('int_batch_events') }}
-- depends_on: {{ ref('stg_tracking__experiment_assignments_batch') }}

-- One row per experiment assignment (experiment_id, visitor_id) with its conversion:
-- is_converter = the visitor has at least one purchase event at or after the assignment time
-- (any time up to the end of the data). Purchases before assignment cannot be caused by the
-- variant and do not count. Incremental: the visitors with a batch purchase event (any version,
-- int_batch_events) or a batch assignment are re-derived (an outcome depends on that visitor's
-- assignments and purchase events only).

with

assignments as (

    select * from {{ ref('stg_tracking__experiment_assignments') }}
    {%- if is_incremental() %}
    where
        visitor_id in (
            select batch_events.visitor_id
            from {{ ref('int_batch_events') }} as batch_events
            where batch_events.event_type = 'purchase'
            union all
            select batch_assignments.visitor_id
            from {{ ref('stg_tracking__experiment_assignments_batch') }} as batch_assignments
        )
    {%- endif %}

),

purchases as (

    -- a visitor converts in an experiment when their last purchase event is at or after the
    -- assignment. A full build aggregates every purchase event (a small table) rather than
    -- semi-join them with the assignments, which are many times more rows.
    select
        visitor_id,
        max(event_ts) as last_purchase_ts
    from {{ ref('int_purchase_events') }}
    {%- if is_incremental() %}
    where visitor_id in (select assignments.visitor_id from assignments)
    {%- endif %}
    group by visitor_id

),

final as (

    select
        assignments.experiment_id,
        assignments.visitor_id,
        assignments.variant,
        assignments.assigned_ts,
        coalesce(purchases.last_purchase_ts >= assignments.assigned_ts, false) as is_converter
    from assignments
    left join purchases
        on assignments.visitor_id = purchases.visitor_id

)

select * from final
