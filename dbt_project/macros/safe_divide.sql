{#
    numerator / denominator as a double; NULL when the denominator is 0 or NULL (the catalog's
    rule: division by zero gives NULL, never 0 and never an error).
#}

{% macro safe_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('safe_divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}
