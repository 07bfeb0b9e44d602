{#
    One row per day from start_date to end_date (both inclusive; DATE expressions, scalar
    subqueries allowed), in a column named `date_day`. No rows when either bound is NULL.
    Used by int_date_spine.
#}

{% macro date_series(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_series')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_series(start_date, end_date) -%}
    {#- DuckDB / Postgres: generate_series over dates yields timestamps; cast back. -#}
    select cast(gs.date_day as date) as date_day
    from generate_series(
        cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day
    ) as gs (date_day)
{%- endmacro %}

{% macro spark__date_series(start_date, end_date) -%}
    select explode(sequence(
        cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day
    )) as date_day
{%- endmacro %}
