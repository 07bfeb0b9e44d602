{#
    Generic test: a boolean SQL expression holds for every row of the model (optionally only for
    the rows matching `where`). Fails with the rows where it is false or NULL.
#}

{% test expression_is_true(model, expression) %}

    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)

{% endtest %}
