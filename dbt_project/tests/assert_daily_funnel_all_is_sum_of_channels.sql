-- daily_funnel: for every day and step, channel 'all' equals the sum over the other channels,
-- and its session step equals daily_traffic.sessions. Fails with the offending day / step.

with

channel_sums as (

    select
        business_date,
        step,
        sum(sessions_reached) as sessions_reached
    from {{ ref('daily_funnel') }}
    where channel != 'all'
    group by business_date, step

),

all_rows as (

    select
        business_date,
        step,
        sessions_reached
    from {{ ref('daily_funnel') }}
    where channel = 'all'

)

select
    all_rows.business_date,
    all_rows.step,
    all_rows.sessions_reached,
    channel_sums.sessions_reached as channel_sum,
    daily_traffic.sessions as traffic_sessions
from all_rows
left join channel_sums
    on
        all_rows.business_date = channel_sums.business_date
        and all_rows.step = channel_sums.step
left join {{ ref('daily_traffic') }} as daily_traffic
    on all_rows.business_date = daily_traffic.business_date
where
    all_rows.sessions_reached != coalesce(channel_sums.sessions_reached, 0)
    or (all_rows.step = 'session' and all_rows.sessions_reached != daily_traffic.sessions)
