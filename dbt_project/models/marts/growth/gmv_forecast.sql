-- GMV and paid-order forecast (kpi-catalog section 7) for the var('forecast_horizon_days') days
-- after the last business date of daily_sales, by a seasonal method:
--   point forecast of day t made at origin o (h = t - o days ahead) = median of the metric on
--   the same weekday over the most recent var('forecast_season_weeks', 4) weeks available at o,
--   i.e. the days t - 7k for k = ceil(h / 7) .. ceil(h / 7) + weeks - 1 (days before the data
--   are skipped; no such day -> NULL forecast, the row is kept). The median keeps one-off
--   spikes and outages out of the forecast.
-- Back-test: the same forecast is made from every origin of the last
-- var('forecast_backtest_days', 56) days for every horizon 1..H whose target is in the data;
-- backtest_mape = mean |actual - forecast| / actual over those points (actual > 0). The
-- interval multiplies the point forecast by the (1 - c) / 2 and (1 + c) / 2 quantiles of the
-- back-test ratios actual / forecast, c = var('forecast_interval') (0.8 -> 10 % and 90 %).

with

sales as (

    select * from {{ ref('daily_sales') }}

),

series as (

    select
        'gmv' as metric,
        business_date,
        cast(gmv as double) as metric_value
    from sales
    union all
    select
        'paid_orders' as metric,
        business_date,
        cast(paid_orders as double) as metric_value
    from sales

),

bounds as (

    select max(business_date) as end_date
    from sales

),

future_days as (

    {{ date_series(
        dbt.dateadd('day', 1, '(select bounds.end_date from bounds)'),
        dbt.dateadd('day', var('forecast_horizon_days'), '(select bounds.end_date from bounds)')
    ) }}

),

backtest_targets as (

    select
        origins.business_date as origin_date,
        targets.business_date as target_date,
        false as is_future
    from sales as origins
    cross join bounds
    inner join sales as targets
        on
            origins.business_date < targets.business_date
            and targets.business_date <= {{ dbt.dateadd(
                'day', var('forecast_horizon_days'), 'origins.business_date'
            ) }}
    where
        origins.business_date >= {{ dbt.dateadd(
            'day', '-' ~ var('forecast_backtest_days', 56), 'bounds.end_date'
        ) }}

),

future_targets as (

    select
        bounds.end_date as origin_date,
        cast(future_days.date_day as date) as target_date,
        true as is_future
    from future_days
    cross join bounds

),

targets as (

    select
        origin_date,
        target_date,
        is_future,
        {{ dbt.datediff('origin_date', 'target_date', 'day') }} as horizon_days
    from backtest_targets
    union all
    select
        origin_date,
        target_date,
        is_future,
        {{ dbt.datediff('origin_date', 'target_date', 'day') }} as horizon_days
    from future_targets

),

targets_with_window as (

    select
        targets.*,
        -- same weekday, k = ceil(h / 7) .. ceil(h / 7) + weeks - 1 weeks before the target
        cast(floor((targets.horizon_days + 6) / 7.0) as {{ dbt.type_int() }}) as first_lag_week
    from targets

),

metrics as (

    select distinct metric from series

),

forecasts as (

    -- left join: a target without any same-weekday history keeps its row (NULL forecast)
    select
        metrics.metric,
        targets_with_window.origin_date,
        targets_with_window.target_date,
        targets_with_window.horizon_days,
        targets_with_window.is_future,
        {{ continuous_quantile('series.metric_value', 0.5) }} as point_forecast,
        count(series.metric_value) as baseline_points
    from targets_with_window
    cross join metrics
    left join series
        on
            metrics.metric = series.metric
            and series.business_date <= {{ dbt.dateadd(
                'day',
                '-7 * targets_with_window.first_lag_week',
                'targets_with_window.target_date'
            ) }}
            and series.business_date >= {{ dbt.dateadd(
                'day',
                '-7 * (targets_with_window.first_lag_week + '
                ~ var('forecast_season_weeks', 4) ~ ' - 1)',
                'targets_with_window.target_date'
            ) }}
            and mod(
                {{ dbt.datediff(
                    'series.business_date', 'targets_with_window.target_date', 'day'
                ) }},
                7
            ) = 0
    group by
        metrics.metric,
        targets_with_window.origin_date,
        targets_with_window.target_date,
        targets_with_window.horizon_days,
        targets_with_window.is_future

),

backtest as (

    select
        forecasts.metric,
        forecasts.point_forecast,
        series.metric_value as actual
    from forecasts
    inner join series
        on
            forecasts.metric = series.metric
            and forecasts.target_date = series.business_date
    where
        not forecasts.is_future
        and series.metric_value > 0
        and forecasts.point_forecast > 0

),

backtest_stats as (

    select
        metric,
        avg(abs(actual - point_forecast) / actual) as backtest_mape,
        {{ continuous_quantile(
            'actual / point_forecast', '(1 - ' ~ var('forecast_interval') ~ ') / 2'
        ) }} as lower_ratio,
        {{ continuous_quantile(
            'actual / point_forecast', '(1 + ' ~ var('forecast_interval') ~ ') / 2'
        ) }} as upper_ratio,
        count(*) as backtest_points
    from backtest
    group by metric

),

final as (

    select
        forecasts.target_date as forecast_date,
        forecasts.metric,
        cast(forecasts.point_forecast as {{ type_money() }}) as point_forecast,
        -- The interval always contains its point forecast: with a short or trending history
        -- every back-test ratio can sit on one side of 1 (seen with 4 weeks of data).
        cast(
            forecasts.point_forecast * least(backtest_stats.lower_ratio, 1)
            as {{ type_money() }}
        ) as lower_80,
        cast(
            forecasts.point_forecast * greatest(backtest_stats.upper_ratio, 1)
            as {{ type_money() }}
        ) as upper_80,
        -- the contract names this column `method`
        'weekday_median_{{ var("forecast_season_weeks", 4) }}w' as method,  -- noqa: RF04
        backtest_stats.backtest_mape,
        cast(forecasts.horizon_days as {{ dbt.type_bigint() }}) as horizon_days,
        forecasts.origin_date as forecast_origin_date,
        cast(forecasts.baseline_points as {{ dbt.type_bigint() }}) as baseline_points,
        cast(backtest_stats.backtest_points as {{ dbt.type_bigint() }}) as backtest_points,
        cast({{ var('forecast_interval') }} as double) as interval_coverage
    from forecasts
    left join backtest_stats
        on forecasts.metric = backtest_stats.metric
    where forecasts.is_future

)

select * from final
