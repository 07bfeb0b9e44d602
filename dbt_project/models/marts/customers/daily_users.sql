{{ config(**incremental_config(
    unique_key='business_date', partition_column='business_date'
)) }}
-- depends_on: {{ ref('int_batch_dates') }}
-- depends_on: {{ ref('int_batch_orders') }}

-- Daily user KPIs (kpi-catalog section 4), one row per business date of int_date_spine.
-- Active = a logged-in event or an order on the day (int_customer_daily_activity); wau / mau
-- count distinct active customers over the 7 / 30 days ending on the day (inclusive), the
-- windows truncated at the start of the data. new_customers is int_customer_signups_daily (the
-- marketing marts' acquisition count) summed over signup channels.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

activity as (

    select * from {{ ref('int_customer_daily_activity') }}

),

signups as (

    select * from {{ ref('int_customer_signups_daily') }}

),

signups_daily as (

    select
        signup_date as business_date,
        sum(new_customers) as new_customers
    from signups
    group by signup_date

),

first_buyers_daily as (

    select
        first_paid_order_date as business_date,
        count(*) as first_time_buyers
    from customers
    where first_paid_order_date is not null
    group by first_paid_order_date

),

active_windows as (

    select
        spine.business_date,
        count(
            distinct case
                when activity.business_date = spine.business_date then activity.customer_id
            end
        ) as dau,
        count(
            distinct case
                when
                    activity.business_date
                    > cast({{ dbt.dateadd('day', -7, 'spine.business_date') }} as date)
                    then activity.customer_id
            end
        ) as wau,
        count(distinct activity.customer_id) as mau
    from spine
    inner join activity
        on
            spine.business_date >= activity.business_date
            and activity.business_date
            > cast({{ dbt.dateadd('day', -30, 'spine.business_date') }} as date)
    group by spine.business_date

),

final as (

    select
        spine.business_date,
        cast(coalesce(signups_daily.new_customers, 0) as {{ dbt.type_bigint() }}) as new_customers,
        cast(
            coalesce(first_buyers_daily.first_time_buyers, 0) as {{ dbt.type_bigint() }}
        ) as first_time_buyers,
        cast(coalesce(active_windows.dau, 0) as {{ dbt.type_bigint() }}) as dau,
        cast(coalesce(active_windows.wau, 0) as {{ dbt.type_bigint() }}) as wau,
        cast(coalesce(active_windows.mau, 0) as {{ dbt.type_bigint() }}) as mau,
        {{ safe_divide('active_windows.dau', 'active_windows.mau') }} as stickiness
    from spine
    left join signups_daily
        on spine.business_date = signups_daily.business_date
    left join first_buyers_daily
        on spine.business_date = first_buyers_daily.business_date
    left join active_windows
        on spine.business_date = active_windows.business_date

)

select * from final
{{- incremental_rows_filter(
    'business_date', window_days=30, extra_dates=batch_customers_first_paid_dates()
) }}
