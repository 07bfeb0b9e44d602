-- The channels and the devices of a day add up to the day's totals: sessions of daily_traffic,
-- orders_placed and paid_revenue of daily_sales ('unattributed' holds the untracked orders).
-- Fails with the days and dimension (channel / device) where a sum differs.

with

channel_sums as (

    select
        business_date,
        'channel' as dimension,
        sum(sessions) as sessions,
        sum(orders) as orders,
        sum(paid_revenue) as paid_revenue
    from {{ ref('daily_channel') }}
    group by business_date

),

device_sums as (

    select
        business_date,
        'device' as dimension,
        sum(sessions) as sessions,
        sum(orders) as orders,
        sum(paid_revenue) as paid_revenue
    from {{ ref('daily_device') }}
    group by business_date

),

sums as (

    select * from channel_sums
    union all
    select * from device_sums

)

select
    sums.business_date,
    sums.dimension,
    sums.sessions,
    daily_traffic.sessions as traffic_sessions,
    sums.orders,
    daily_sales.orders_placed as sales_orders_placed,
    sums.paid_revenue,
    daily_sales.paid_revenue as sales_paid_revenue
from sums
left join {{ ref('daily_traffic') }} as daily_traffic
    on sums.business_date = daily_traffic.business_date
left join {{ ref('daily_sales') }} as daily_sales
    on sums.business_date = daily_sales.business_date
where
    daily_traffic.business_date is null
    or daily_sales.business_date is null
    or sums.sessions != daily_traffic.sessions
    or sums.orders != daily_sales.orders_placed
    or sums.paid_revenue != daily_sales.paid_revenue
