-- For every dimension of segment_summary (rfm_segment, lifecycle_stage, member_tier), the
-- customers of its segments add up to the customers of customer_snapshot. Returns the
-- dimensions that do not.

with

summary as (

    select
        dimension,
        sum(customers) as customers
    from {{ ref('segment_summary') }}
    group by dimension

),

snapshot as (

    select count(*) as customers from {{ ref('customer_snapshot') }}

)

select
    summary.dimension,
    summary.customers,
    snapshot.customers as snapshot_customers
from summary
cross join snapshot
where summary.customers != snapshot.customers
