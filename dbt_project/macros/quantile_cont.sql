{#
    Aggregate: the p-quantile (0 <= p <= 1) of a numeric expression over the group, by linear
    interpolation between the closest ranks (the same definition as SQL percentile_cont; NULLs
    ignored, NULL for an empty group). Used for medians and p90s (service_daily) and the
    back-test residual quantiles of gmv_forecast.
    DuckDB: quantile_cont(x, p); Spark: percentile(x, p) (exact, same interpolation).
#}

{% macro quantile_cont(expression, p) -%}
    {{ return(adapter.dispatch('quantile_cont')(expression, p)) }}
{%- endmacro %}

{% macro default__quantile_cont(expression, p) -%}
    quantile_cont({{ expression }}, {{ p }})
{%- endmacro %}

{% macro spark__quantile_cont(expression, p) -%}
    percentile({{ expression }}, {{ p }})
{%- endmacro %}
