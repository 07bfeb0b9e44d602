{{ config(**incremental_config(unique_key=['business_date', 'channel'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Channel mix (kpi-catalog section 1), one row per business date of int_date_spine and channel:
-- a dense grid of every day x every channel seen in the data (session channels, plus
-- 'unattributed' when some orders have no tracked purchase session), zeros on days without
-- activity. Sessions and unique visitors count on the session's day (its first event); orders
-- and paid revenue count on the order's day and go to the channel of the session holding the
-- order's purchase event (last touch, int_order_purchase_sessions).
-- A batch build reads the sessions and orders of the dates it rewrites (rebuilt_dates) only.

{%- set batch_build = is_incremental() %}

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

channels as (

    select channel from {{ ref('int_sessions') }}
    union
    select channel from {{ ref('int_order_purchase_sessions') }}

),
{%- if batch_build %}

rebuilt_dates as (

    {#- the rows of the last line's filter; a channel new to the table fills its whole column,
        and the dates it appears on need the other channels' rows for their share: every date
        is rebuilt then (rare: a channel value seen for the first time) #}
    select business_date from spine
    {{- incremental_rows_filter('business_date', extra_dates=(
        'select all_dates.business_date from spine as all_dates where exists ('
        ~ 'select 1 from channels where channels.channel not in ('
        ~ 'select built.channel from ' ~ this ~ ' as built))'
    )) }}

),
{%- endif %}

sessions as (

    select * from {{ ref('int_sessions') }}
    {%- if batch_build %}
    where business_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

orders as (

    select * from {{ ref('int_order_purchase_sessions') }}
    {%- if batch_build %}
    where order_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

grid as (

    select
        spine.business_date,
        channels.channel
    from spine
    cross join channels

),

sessions_daily as (

    select
        business_date,
        channel,
        count(*) as sessions,
        count(distinct visitor_id) as unique_visitors
    from sessions
    group by business_date, channel

),

orders_daily as (

    select
        order_date as business_date,
        channel,
        count(*) as orders,
        sum(case when is_paid then 1 else 0 end) as paid_orders,
        sum(case when is_paid then order_value else 0 end) as paid_revenue
    from orders
    group by order_date, channel

),

daily as (

    select
        grid.business_date,
        grid.channel,
        coalesce(sessions_daily.sessions, 0) as sessions,
        coalesce(sessions_daily.unique_visitors, 0) as unique_visitors,
        coalesce(orders_daily.orders, 0) as orders,
        coalesce(orders_daily.paid_orders, 0) as paid_orders,
        coalesce(orders_daily.paid_revenue, 0) as paid_revenue
    from grid
    left join sessions_daily
        on
            grid.business_date = sessions_daily.business_date
            and grid.channel = sessions_daily.channel
    left join orders_daily
        on
            grid.business_date = orders_daily.business_date
            and grid.channel = orders_daily.channel

),

with_totals as (

    select
        daily.*,
        sum(daily.sessions) over (partition by daily.business_date) as day_sessions
    from daily

),

final as (

    select
        business_date,
        channel,
        cast(sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(unique_visitors as {{ dbt.type_bigint() }}) as unique_visitors,
        cast(orders as {{ dbt.type_bigint() }}) as orders,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        {{ safe_divide('sessions', 'day_sessions') }} as session_share,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders
    from with_totals

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['channel']
) }}
