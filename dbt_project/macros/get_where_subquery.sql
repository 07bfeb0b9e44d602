{#
    Data tests of an incremental build test the rows the build wrote.

    dbt wraps the model of every generic test in get_where_subquery. On an incremental build
    (batch_since set), a test of a replace_where model (the staging tables of the big feeds,
    int_events_sessionized, int_sessions, the order and customer facts...) reads only the rows
    this build deleted and re-inserted: those matching the model's replace_where predicate.
    The other rows were written, and tested, by an earlier build and have not changed.

    Those rows are read from the copy the build kept (batch_written_relation, schema dbt_batch,
    labelled with the invocation that wrote it): a few thousand rows, where evaluating the
    predicate again costs a semi-join over the whole table for every test (0.2-0.5 s each on
    the 8-44 M-row tables at SF1). When the copy is not this invocation's (the model was built
    from scratch, or not in this invocation), the test evaluates the predicate instead: the
    same rows. A full build (no batch_since) tests every row, as does any test of another
    model. The test's own `where` config, if any, still applies.
#}

{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {#- Only while executing: when dbt parses a test, the project's other macros are not in
        this macro's context (and there is no batch to scope to). -#}
    {%- set batch_node = batch_test_node(relation) if execute else none -%}
    {%- set written = batch_test_written_rows(relation) if batch_node else none -%}
    {%- if batch_node and not written -%}
        {%- set predicate = batch_node.config.incremental_predicates | join(' and ') -%}
        {%- do conditions.append('(' ~ replace_where_predicate(predicate) ~ ')') -%}
    {%- endif -%}
    {%- if conditions or written -%}
        {%- set filtered -%}
            (select * from {{ written or relation }}
            {%- if conditions %} where {{ conditions | join(' and ') }}{% endif %}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{% macro batch_test_written_rows(relation) -%}
    {#- The copy of the rows this invocation's build of the model behind `relation` wrote
        (batch_written_relation), if it exists and is labelled with this invocation; else none.
        DuckDB only: the other targets build from scratch and keep no copy. -#}
    {%- if target.type != 'duckdb' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set written = batch_written_relation(relation) -%}
    {%- set label -%}
        select comment from duckdb_tables()
        where database_name = '{{ written.database }}'
            and schema_name = '{{ written.schema }}'
            and table_name = '{{ written.identifier }}'
    {%- endset -%}
    {%- set found = run_query(label) -%}
    {%- if found.rows | length == 1 and found.rows[0][0] == invocation_id -%}
        {{ return(written) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{% macro batch_test_node(relation) -%}
    {#- The model node behind `relation` when this is an incremental build and that model is a
        replace_where incremental model; else none. -#}
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
        {{ return(node) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
