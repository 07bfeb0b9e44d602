{#
    Relative growth (current - previous) / previous as a double; NULL when previous is 0 or
    NULL (missing day) or when current is NULL.
#}

{% macro growth(current, previous) -%}
    {{ return(adapter.dispatch('growth')(current, previous)) }}
{%- endmacro %}

{% macro default__growth(current, previous) -%}
    {{ safe_divide('(' ~ current ~ ') - (' ~ previous ~ ')', previous) }}
{%- endmacro %}
