-- Campaign lift (kpi-catalog section 5): for each campaign and metric, the site-wide daily
-- average during the campaign (start_date..end_date) against the same number of days just
-- before it (start_date - n .. start_date - 1), with the absolute and relative change.
-- Averages run over the window's days inside the data's range (int_date_spine); a window with
-- no day in range gives NULL. session_conversion_rate is the window's pooled rate (converted
-- sessions / sessions over the window), not a mean of daily rates. The daily inputs are the
-- marts daily_sales and daily_traffic and the signups of int_customer_signups_daily.

{%- set count_metrics = ['gmv', 'paid_orders', 'orders_placed', 'sessions', 'new_signups'] %}

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

campaigns as (

    select * from {{ ref('stg_marketing__campaigns') }}

),

sales as (

    select * from {{ ref('daily_sales') }}

),

traffic as (

    select * from {{ ref('daily_traffic') }}

),

signups_daily as (

    select
        signup_date,
        sum(new_customers) as new_signups
    from {{ ref('int_customer_signups_daily') }}
    group by signup_date

),

daily as (

    select
        spine.business_date,
        coalesce(sales.gmv, 0) as gmv,
        coalesce(sales.paid_orders, 0) as paid_orders,
        coalesce(sales.orders_placed, 0) as orders_placed,
        coalesce(traffic.sessions, 0) as sessions,
        coalesce(traffic.converted_sessions, 0) as converted_sessions,
        coalesce(signups_daily.new_signups, 0) as new_signups
    from spine
    left join sales
        on spine.business_date = sales.business_date
    left join traffic
        on spine.business_date = traffic.business_date
    left join signups_daily
        on spine.business_date = signups_daily.signup_date

),

windows as (

    select
        campaign_id,
        campaign_name,
        start_date,
        end_date,
        {{ dbt.datediff('start_date', 'end_date', 'day') }} + 1 as campaign_days,
        cast(
            {{ dbt.dateadd('day', '-1 - ' ~ dbt.datediff('start_date', 'end_date', 'day'),
                'start_date') }} as date
        ) as before_start_date,
        cast({{ dbt.dateadd('day', -1, 'start_date') }} as date) as before_end_date
    from campaigns
    where end_date >= start_date

),

window_days as (

    select
        windows.campaign_id,
        case
            when daily.business_date >= windows.start_date then 'during' else 'before'
        end as window_name,
        daily.gmv,
        daily.paid_orders,
        daily.orders_placed,
        daily.sessions,
        daily.converted_sessions,
        daily.new_signups
    from windows
    inner join daily
        on
            windows.before_start_date <= daily.business_date
            and windows.end_date >= daily.business_date

),

window_sums as (

    select
        campaign_id,
        window_name,
        count(*) as days_in_data,
        sum(gmv) as gmv,
        sum(paid_orders) as paid_orders,
        sum(orders_placed) as orders_placed,
        sum(sessions) as sessions,
        sum(converted_sessions) as converted_sessions,
        sum(new_signups) as new_signups
    from window_days
    group by campaign_id, window_name

),

windows_summed as (

    select
        windows.*,
        coalesce(during_sums.days_in_data, 0) as during_days,
        coalesce(before_sums.days_in_data, 0) as before_days,
        during_sums.gmv as during_gmv,
        before_sums.gmv as before_gmv,
        during_sums.paid_orders as during_paid_orders,
        before_sums.paid_orders as before_paid_orders,
        during_sums.orders_placed as during_orders_placed,
        before_sums.orders_placed as before_orders_placed,
        during_sums.sessions as during_sessions,
        before_sums.sessions as before_sessions,
        during_sums.converted_sessions as during_converted_sessions,
        before_sums.converted_sessions as before_converted_sessions,
        during_sums.new_signups as during_new_signups,
        before_sums.new_signups as before_new_signups
    from windows
    left join window_sums as during_sums
        on
            windows.campaign_id = during_sums.campaign_id
            and during_sums.window_name = 'during'
    left join window_sums as before_sums
        on
            windows.campaign_id = before_sums.campaign_id
            and before_sums.window_name = 'before'

),

metrics as (

    {%- for metric in count_metrics %}
    select
        campaign_id,
        '{{ metric }}' as metric,
        {{ safe_divide('during_' ~ metric, 'during_days') }} as during_value,
        {{ safe_divide('before_' ~ metric, 'before_days') }} as before_value
    from windows_summed
    union all
    {%- endfor %}
    select
        campaign_id,
        'session_conversion_rate' as metric,
        {{ safe_divide('during_converted_sessions', 'during_sessions') }} as during_value,
        {{ safe_divide('before_converted_sessions', 'before_sessions') }} as before_value
    from windows_summed

),

final as (

    select
        metrics.campaign_id,
        metrics.metric,
        metrics.during_value as during_per_day,
        metrics.before_value as before_per_day,
        metrics.during_value - metrics.before_value as abs_change,
        {{ safe_divide('metrics.during_value - metrics.before_value', 'metrics.before_value') }}
            as rel_change,
        windows_summed.campaign_name,
        windows_summed.start_date,
        windows_summed.end_date,
        cast(windows_summed.campaign_days as {{ dbt.type_bigint() }}) as campaign_days,
        windows_summed.before_start_date,
        windows_summed.before_end_date,
        cast(windows_summed.during_days as {{ dbt.type_bigint() }}) as during_days_in_data,
        cast(windows_summed.before_days as {{ dbt.type_bigint() }}) as before_days_in_data
    from metrics
    inner join windows_summed
        on metrics.campaign_id = windows_summed.campaign_id

)

select * from final
