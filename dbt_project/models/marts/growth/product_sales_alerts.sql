{%- set weeks = var('product_alert_baseline_weeks') | int %}
{#- An activity date D of the batch (is_activity_date: the touched orders' order dates, now and
    before, and the event dates) rebuilds D, D + 7, ..., D + 7 x weeks: every row of those dates
    is deleted (so a product-day that leaves the grain goes too) and inserted again, with any
    date not in the table yet. The CTEs compute those dates only, reading their baseline days. -#}
{{ config(**incremental_config(rebuilds="
    business_date in (
        select cast(batch_dates.business_date + cast(7 * weeks.week_offset as integer) as date)
        from {{ ref('int_batch_dates') }} as batch_dates
        cross join range(0, " ~ (weeks + 1) ~ ") as weeks (week_offset)
        where batch_dates.is_activity_date
    )
")) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Sudden product sales changes (kpi-catalog section 8 "product_sales_alerts"). Grain: one row
-- per business date of int_date_spine and product that sold (paid order lines, order's
-- business day) on that day or on one of its baseline days: the same weekday of the previous
-- var('product_alert_baseline_weeks') weeks (d - 7, d - 14, ...), so a product whose sales
-- collapse to zero keeps its rows with units_sold 0. Baseline days before the data's first
-- day do not count; the others count 0 when the product did not sell.
--   baseline_mean = mean, baseline_std = sample standard deviation (n - 1, two-pass), as in
--   kpi_anomalies; z_score = (units_sold - baseline_mean) / baseline_std;
--   is_alert = |z_score| > var('product_alert_z').
-- z_score is NULL (is_alert false: the product-day is not judged) when fewer baseline days than
-- var('product_alert_baseline_weeks') lie in the data, when baseline_mean is below
-- var('product_alert_min_units') (too little volume) or when baseline_std is 0.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

order_lines as (

    select * from {{ ref('int_order_items_enriched') }}

),

weeks as (

    {%- for week in range(weeks + 1) %}
    select {{ week }} as week_offset
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),
{%- if is_incremental() %}

rebuilt_dates as (

    -- the dates of the config's rebuilds, and spine dates new to the table
    select distinct cast({{ dbt.dateadd(
        'day', '7 * weeks.week_offset', 'batch_dates.business_date'
    ) }} as date) as business_date
    from {{ ref('int_batch_dates') }} as batch_dates
    cross join weeks
    where batch_dates.is_activity_date
    union
    select business_date from spine
    where business_date not in (select built.business_date from {{ this }} as built)

),

read_dates as (

    -- the rebuilt dates and their baseline days
    select distinct cast({{ dbt.dateadd(
        'day', '-7 * weeks.week_offset', 'rebuilt_dates.business_date'
    ) }} as date) as business_date
    from rebuilt_dates
    cross join weeks

),
{%- endif %}

units_daily as (

    select
        order_date as business_date,
        product_id,
        sum(quantity) as units_sold
    from order_lines
    where
        is_paid
        {%- if is_incremental() %}
        and order_date in (select read_dates.business_date from read_dates)
        {%- endif %}
    group by order_date, product_id

),

grain as (

    -- a sale on day s puts the product on s and on s + 7, ..., s + 7 x weeks
    select distinct
        spine.business_date,
        units_daily.product_id
    from units_daily
    cross join weeks
    inner join spine
        on
            spine.business_date = cast({{ dbt.dateadd(
                'day', '7 * weeks.week_offset', 'units_daily.business_date'
            ) }} as date)
    {%- if is_incremental() %}
    where spine.business_date in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}

),

product_days as (

    select
        grain.business_date,
        grain.product_id,
        coalesce(units_daily.units_sold, 0) as units_sold
    from grain
    left join units_daily
        on
            grain.business_date = units_daily.business_date
            and grain.product_id = units_daily.product_id

),

baseline_pairs as (

    -- the baseline days that lie in the data, 0 units when the product did not sell
    select
        grain.business_date,
        grain.product_id,
        cast(coalesce(units_daily.units_sold, 0) as double) as baseline_value
    from grain
    inner join weeks
        on weeks.week_offset > 0
    inner join spine as baseline_days
        on baseline_days.business_date = cast({{ dbt.dateadd(
            'day', '-7 * weeks.week_offset', 'grain.business_date'
        ) }} as date)
    left join units_daily
        on
            baseline_days.business_date = units_daily.business_date
            and grain.product_id = units_daily.product_id

),

{{ baseline_stats('product_id') }}

scored as (

    select
        product_days.business_date,
        product_days.product_id,
        product_days.units_sold,
        baselines.baseline_mean,
        baselines.baseline_std,
        coalesce(baselines.baseline_points, 0) as baseline_points,
        case
            when
                coalesce(baselines.baseline_points, 0) >= {{ weeks }}
                and baselines.baseline_mean >= {{ var('product_alert_min_units') }}
                then {{ safe_divide(
                    'product_days.units_sold - baselines.baseline_mean', 'baselines.baseline_std'
                ) }}
        end as z_score
    from product_days
    left join baselines
        on
            product_days.business_date = baselines.business_date
            and product_days.product_id = baselines.product_id

),

final as (

    select
        business_date,
        product_id,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        baseline_mean,
        baseline_std,
        z_score,
        coalesce(abs(z_score) > {{ var('product_alert_z') }}, false) as is_alert,
        cast(baseline_points as {{ dbt.type_bigint() }}) as baseline_points,
        case
            when abs(z_score) > {{ var('product_alert_z') }} and z_score > 0 then 'up'
            when abs(z_score) > {{ var('product_alert_z') }} then 'down'
        end as direction
    from scored

)

select * from final
