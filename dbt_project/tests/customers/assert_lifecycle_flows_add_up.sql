-- Each month's lifecycle flows add up to the customers signed up by the month's end, and the
-- customers flowing into each stage add up to that stage's count at the month end. Returns the
-- (month, to_stage) cells that do not.

with

flows as (

    select
        month,
        to_stage,
        sum(customers) as customers
    from {{ ref('lifecycle_flows') }}
    group by month, to_stage

),

stages as (

    select
        month_start as month,
        lifecycle_stage as to_stage,
        count(*) as customers
    from {{ ref('int_customer_month_end_stages') }}
    group by month_start, lifecycle_stage

)

select
    flows.month,
    flows.to_stage,
    flows.customers,
    stages.customers as stage_customers
from flows
left join stages
    on flows.month = stages.month and flows.to_stage = stages.to_stage
where flows.customers != coalesce(stages.customers, 0)
