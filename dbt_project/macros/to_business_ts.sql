{#
    Naive UTC timestamp -> naive local timestamp in the business time zone (var
    `business_timezone`, default Asia/Shanghai). Daylight-saving rules of the zone apply.
#}

{% macro to_business_ts(column_name) -%}
    {{ return(adapter.dispatch('to_business_ts')(column_name)) }}
{%- endmacro %}

{% macro default__to_business_ts(column_name) -%}
    {#- DuckDB (and Postgres): timezone('UTC', naive) reads the naive value as UTC
        (-> timestamptz); timezone(tz, timestamptz) gives the naive wall-clock time in tz. -#}
    timezone('{{ var("business_timezone") }}', timezone('UTC', {{ column_name }}))
{%- endmacro %}

{% macro spark__to_business_ts(column_name) -%}
    {#- Needs spark.sql.session.timeZone = UTC (see shared/spark-notes.md). -#}
    from_utc_timestamp({{ column_name }}, '{{ var("business_timezone") }}')
{%- endmacro %}
