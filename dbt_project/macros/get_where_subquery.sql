{#
    Data tests of an incremental build test the rows the build wrote.

    dbt wraps the model of every generic test in get_where_subquery. On an incremental build
    (batch_since set), a test of a replace_where model (stg_tracking__events,
    int_events_sessionized, int_sessions, int_order_facts, int_order_items_enriched) reads only
    the rows matching the model's replace_where predicate: exactly the rows this build deleted
    and re-inserted. The other rows were written, and tested, by an earlier build and have not
    changed. A full build (no batch_since) tests every row, as does any test of another model.
    The test's own `where` config, if any, still applies.
#}

{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {#- Only while executing: when dbt parses a test, the project's other macros are not in
        this macro's context (and there is no batch to scope to). -#}
    {%- set batch_condition = batch_test_condition(relation) if execute else none -%}
    {%- if batch_condition -%}
        {%- do conditions.append('(' ~ batch_condition ~ ')') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{% macro batch_test_condition(relation) -%}
    {#- The replace_where predicate of the model behind `relation` when this is an incremental
        build and that model is a replace_where incremental model; else none. -#}
    {%- if not execute or not batch_since() or relation is string
        or relation.identifier is none -%}
        {{ return(none) }}
    {%- endif -%}
    {#- By unique id, not a loop over the graph's ~500 nodes for each of ~200 tests. A model
        with an alias other than its name is not found: its tests read every row. -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier) -%}
    {%- if node
        and (node.alias or node.name) == relation.identifier
        and node.schema == relation.schema
        and node.config.materialized == 'incremental'
        and node.config.incremental_strategy == 'replace_where'
        and node.config.incremental_predicates -%}
        {{ return(replace_where_predicate(node.config.incremental_predicates | join(' and '))) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
