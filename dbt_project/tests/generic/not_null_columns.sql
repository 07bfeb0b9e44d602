{#
    Generic test: none of the given columns holds a NULL. One test (one query, one scan) per
    model instead of one per column: a dbt data test costs ~40 ms of dbt's own time whatever
    its query, and an incremental build runs every test. Fails with one row per column that
    has NULLs: the column's name and how many rows.
#}

{% test not_null_columns(model, column_names) %}

    with

    null_counts as (

        select
            {%- for column in column_names %}
            sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ model }}

    )

    {% for column in column_names %}
    select
        '{{ column }}' as column_name,
        null_rows_{{ loop.index }} as null_rows
    from null_counts
    where null_rows_{{ loop.index }} > 0
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

{% endtest %}
