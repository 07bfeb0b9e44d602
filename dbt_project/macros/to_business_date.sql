{#
    Naive UTC timestamp -> the business date (local date in var `business_timezone`): the day
    every KPI is attributed to.
#}

{% macro to_business_date(column_name) -%}
    {{ return(adapter.dispatch('to_business_date')(column_name)) }}
{%- endmacro %}

{% macro default__to_business_date(column_name) -%}
    cast({{ to_business_ts(column_name) }} as date)
{%- endmacro %}
