{#
    Continuous (linearly interpolated) quantile of a numeric expression as an aggregate, e.g.
    the p90 of delivery_days: continuous_quantile('delivery_days', 0.9). NULLs are ignored; NULL
    when the group has no non-NULL value. fraction is a literal or a constant SQL expression.
    Used by fulfillment_daily, service_daily and gmv_forecast. Named continuous_quantile (not
    quantile_cont / percentile_cont) so that it cannot clash with a built-in or another project
    macro.
#}

{% macro continuous_quantile(expression, fraction) -%}
    {{ return(adapter.dispatch('continuous_quantile')(expression, fraction)) }}
{%- endmacro %}

{% macro default__continuous_quantile(expression, fraction) -%}
    {#- DuckDB: quantile_cont interpolates between the two nearest values. -#}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro postgres__continuous_quantile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__continuous_quantile(expression, fraction) -%}
    {#- Spark: percentile (exact, linear interpolation), not the approximate percentile_approx. -#}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}
