{#
    The one override of a dbt built-in macro. Data tests of an incremental build test the rows
    the build wrote: a model built with strategy append_kept (macros/incremental.sql) keeps a
    copy of the rows it inserted in schema dbt_batch, which the on-run-start hook
    reset_kept_rows empties, so a copy that exists was written by this invocation. A test of
    such a model reads the copy; the other rows were tested by the build that wrote them. Any
    other test (a full build, a table model) reads the whole relation. The test's own `where`
    config still applies.
#}

{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set kept = none -%}
    {#- Only while executing: parsing has no warehouse (and no project macros here). -#}
    {%- if execute and target.type == 'duckdb' and relation is not string
        and relation.identifier -%}
        {%- set copy = kept_rows_relation(relation) -%}
        {%- set kept = adapter.get_relation(copy.database, copy.schema, copy.identifier) -%}
    {%- endif -%}
    {%- if where or kept -%}
        {%- set filtered -%}
            (select * from {{ kept or relation }}
            {%- if where %} where {{ where }}{% endif %}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
