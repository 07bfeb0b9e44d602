{% macro baseline_stats(key) -%}
    {#-
        The CTEs baseline_means and baselines over CTE `baseline_pairs` (business_date, `key`,
        baseline_value): per (business_date, key) the mean, the number of points and the
        two-pass sample standard deviation sqrt(sum((x - mean)^2) / (n - 1)), NULL for n = 1.
        The caller's next CTE reads `baselines`.
    -#}
baseline_means as (

    select
        business_date,
        {{ key }},
        avg(baseline_value) as baseline_mean,
        count(*) as baseline_points
    from baseline_pairs
    group by business_date, {{ key }}

),

baselines as (

    select
        baseline_pairs.business_date,
        baseline_pairs.{{ key }},
        baseline_means.baseline_mean,
        baseline_means.baseline_points,
        sqrt(
            sum(
                (baseline_pairs.baseline_value - baseline_means.baseline_mean)
                * (baseline_pairs.baseline_value - baseline_means.baseline_mean)
            )
            / nullif(baseline_means.baseline_points - 1, 0)
        ) as baseline_std
    from baseline_pairs
    inner join baseline_means
        on
            baseline_pairs.business_date = baseline_means.business_date
            and baseline_pairs.{{ key }} = baseline_means.{{ key }}
    group by
        baseline_pairs.business_date,
        baseline_pairs.{{ key }},
        baseline_means.baseline_mean,
        baseline_means.baseline_points

),
{%- endmacro %}
