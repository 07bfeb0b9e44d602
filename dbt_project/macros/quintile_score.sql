{#
    Quintile score 1-5 of a value over the rows of the current query (a window over all rows):
    floor(5 x (rank - 1) / rows) + 1, rank() ascending on order_by. The same as ntile(5) when
    the values are distinct, but deterministic on ties: equal values share the rank of the
    first of them and so the same (lower) score. Order so that the best value sorts last.
#}

{% macro quintile_score(order_by) -%}
    {{ return(adapter.dispatch('quintile_score')(order_by)) }}
{%- endmacro %}

{% macro default__quintile_score(order_by) -%}
    cast(
        floor(
            5.0 * (rank() over (order by {{ order_by }}) - 1)
            / count(*) over ()
        ) + 1
        as {{ dbt.type_int() }}
    )
{%- endmacro %}
