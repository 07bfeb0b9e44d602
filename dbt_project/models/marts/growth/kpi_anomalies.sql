-- KPI anomaly alerts (kpi-catalog section 7): for each business day and headline KPI, the day's
-- value against the same weekday of the previous var('anomaly_baseline_weeks') weeks (days
-- d - 7, d - 14, ...; baseline days whose value is NULL are skipped):
--   baseline_mean = mean, baseline_std = sample standard deviation (n - 1, two-pass),
--   z_score = (value - baseline_mean) / baseline_std,
--   is_anomaly = |z_score| > var('anomaly_z').
-- z_score is NULL (and is_anomaly false) when the value is NULL, when fewer than
-- var('anomaly_min_baseline_points', 4) baseline values exist (the first weeks of the data) or
-- when baseline_std is 0. KPI sources: gmv and paid_orders (daily_sales),
-- session_conversion_rate (daily_traffic), payment_success_rate (daily_payments),
-- negative_review_rate and complaint_rate = complaints / paid orders (daily_satisfaction).

with

sales as (

    select * from {{ ref('daily_sales') }}

),

traffic as (

    select * from {{ ref('daily_traffic') }}

),

payments as (

    select * from {{ ref('daily_payments') }}

),

satisfaction as (

    select * from {{ ref('daily_satisfaction') }}

),

kpi_values as (

    select
        business_date,
        'gmv' as kpi,
        cast(gmv as double) as kpi_value
    from sales
    union all
    select
        business_date,
        'paid_orders' as kpi,
        cast(paid_orders as double) as kpi_value
    from sales
    union all
    select
        business_date,
        'session_conversion_rate' as kpi,
        session_conversion_rate as kpi_value
    from traffic
    union all
    select
        business_date,
        'payment_success_rate' as kpi,
        payment_success_rate as kpi_value
    from payments
    union all
    select
        business_date,
        'negative_review_rate' as kpi,
        negative_review_rate as kpi_value
    from satisfaction
    union all
    select
        business_date,
        'complaint_rate' as kpi,
        complaint_rate as kpi_value
    from satisfaction

),

baseline_pairs as (

    select
        current_day.business_date,
        current_day.kpi,
        baseline_day.kpi_value as baseline_value
    from kpi_values as current_day
    inner join kpi_values as baseline_day
        on
            current_day.kpi = baseline_day.kpi
            and {{ dbt.dateadd(
                'day',
                '-7 * ' ~ var('anomaly_baseline_weeks'),
                'current_day.business_date'
            ) }} <= baseline_day.business_date
            and current_day.business_date > baseline_day.business_date
            and mod(
                {{ dbt.datediff(
                    'baseline_day.business_date', 'current_day.business_date', 'day'
                ) }},
                7
            ) = 0
    where baseline_day.kpi_value is not null

),

{{ baseline_stats('kpi') }}

scored as (

    select
        kpi_values.business_date,
        kpi_values.kpi,
        kpi_values.kpi_value,
        baselines.baseline_mean,
        baselines.baseline_std,
        coalesce(baselines.baseline_points, 0) as baseline_points,
        case
            when
                coalesce(baselines.baseline_points, 0)
                >= {{ var('anomaly_min_baseline_points', 4) }}
                then {{ safe_divide(
                    'kpi_values.kpi_value - baselines.baseline_mean', 'baselines.baseline_std'
                ) }}
        end as z_score
    from kpi_values
    left join baselines
        on
            kpi_values.business_date = baselines.business_date
            and kpi_values.kpi = baselines.kpi

),

final as (

    select
        business_date,
        kpi,
        kpi_value as value,  -- noqa: RF04
        baseline_mean,
        baseline_std,
        z_score,
        coalesce(abs(z_score) > {{ var('anomaly_z') }}, false) as is_anomaly,
        cast(baseline_points as {{ dbt.type_bigint() }}) as baseline_points,
        case
            when abs(z_score) > {{ var('anomaly_z') }} and z_score > 0 then 'up'
            when abs(z_score) > {{ var('anomaly_z') }} then 'down'
        end as direction
    from scored

)

select * from final
