-- The visitor_ids of the batch of raw experiment assignments (macro batch_rows: rows loaded
-- into raw, or moved to raw_replaced, after batch_since): stg_tracking__experiment_assignments
-- re-stages every assignment of these visitors.

with

batch_rows as (

    {{ batch_rows('tracking', 'experiment_assignments', ['visitor_id']) }}

),

final as (

    select distinct visitor_id
    from batch_rows

)

select * from final
