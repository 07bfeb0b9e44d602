{#
    The money type of the warehouse: decimal(18,2), in the deployment's currency (var
    `currency`). Every money column of a mart is cast to it.
#}

{% macro type_money() -%}
    {{ return(adapter.dispatch('type_money')()) }}
{%- endmacro %}

{% macro default__type_money() -%}
    decimal(18, 2)
{%- endmacro %}
