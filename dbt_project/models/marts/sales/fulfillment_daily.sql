{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Fulfilment KPIs (kpi-catalog section 3 "delivery_days, on_time_rate"), one row per business
-- date of int_date_spine, keyed by the business day of delivery: zeros and NULL ratios on days
-- without deliveries. Every delivered order counts (also one returned or cancelled afterwards).
-- delivery_days = (delivered_at - first successful payment) in fractional days
-- (int_order_facts); its mean and continuous p90 skip orders delivered without a payment.
-- on_time: delivered on or before promised_delivery_date (business dates). same_day / next_day:
-- delivered on the same / the next business date (calendar day in var business_timezone) as
-- paid; next_day excludes same_day.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

deliveries as (

    select
        delivered_date,
        delivery_days,
        is_delivered_on_time,
        paid_date,
        case when paid_date is not null then delivered_date = paid_date end as is_same_day,
        case
            when paid_date is not null
                then delivered_date = cast({{ dbt.dateadd('day', 1, 'paid_date') }} as date)
        end as is_next_day
    from {{ ref('int_order_facts') }}
    where is_delivered

),

deliveries_daily as (

    select
        delivered_date as business_date,
        count(*) as delivered_orders,
        avg(delivery_days) as avg_delivery_days,
        {{ continuous_quantile('delivery_days', 0.9) }} as p90_delivery_days,
        sum(case when is_delivered_on_time then 1 else 0 end) as on_time_orders,
        count(is_delivered_on_time) as promised_orders,
        sum(case when is_same_day then 1 else 0 end) as same_day_orders,
        sum(case when is_next_day then 1 else 0 end) as next_day_orders,
        count(paid_date) as paid_delivered_orders
    from deliveries
    group by delivered_date

),

{%- set paid_base = 'deliveries_daily.paid_delivered_orders' %}

final as (

    select
        spine.business_date,
        cast(
            coalesce(deliveries_daily.delivered_orders, 0) as {{ dbt.type_bigint() }}
        ) as delivered_orders,
        cast(deliveries_daily.avg_delivery_days as double) as avg_delivery_days,
        cast(deliveries_daily.p90_delivery_days as double) as p90_delivery_days,
        {{ safe_divide('deliveries_daily.on_time_orders', 'deliveries_daily.promised_orders') }}
            as on_time_rate,
        {{ safe_divide('deliveries_daily.same_day_orders', paid_base) }} as same_day_rate,
        {{ safe_divide('deliveries_daily.next_day_orders', paid_base) }} as next_day_rate,
        cast(
            coalesce(deliveries_daily.on_time_orders, 0) as {{ dbt.type_bigint() }}
        ) as on_time_orders,
        cast(
            coalesce(deliveries_daily.promised_orders, 0) as {{ dbt.type_bigint() }}
        ) as promised_orders,
        cast(
            coalesce(deliveries_daily.same_day_orders, 0) as {{ dbt.type_bigint() }}
        ) as same_day_orders,
        cast(
            coalesce(deliveries_daily.next_day_orders, 0) as {{ dbt.type_bigint() }}
        ) as next_day_orders,
        cast(
            coalesce(deliveries_daily.paid_delivered_orders, 0) as {{ dbt.type_bigint() }}
        ) as paid_delivered_orders
    from spine
    left join deliveries_daily
        on spine.business_date = deliveries_daily.business_date

)

select * from final
{{- incremental_rows_filter(
    'business_date'
) }}
