-- fulfillment_daily counts every delivered order of int_order_facts exactly once (on its
-- delivery day within the data's range): fails when the totals differ.

with

mart as (

    select sum(delivered_orders) as delivered_orders
    from {{ ref('fulfillment_daily') }}

),

facts as (

    select count(*) as delivered_orders
    from {{ ref('int_order_facts') }}
    where is_delivered

)

select
    mart.delivered_orders,
    facts.delivered_orders as fact_delivered_orders
from mart
cross join facts
where coalesce(mart.delivered_orders, 0) != facts.delivered_orders
