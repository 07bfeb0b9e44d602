{#
    Incremental builds (issue 6). The batch of a dbt build is every raw row loaded after var
    `batch_since` plus every raw_replaced row (a row version a re-delivered partition removed)
    replaced after it; `batch_since` is set by the Dagster dbt asset from ops.dbt_build_log (the
    last successful build). No batch_since = everything is in the batch. The incremental models
    rebuild only what the batch touches: int_order_facts / int_order_items_enriched by order
    (int_batch_orders), the sessions and the daily marts by business date (int_batch_dates).
#}

{% macro batch_since() -%}
    {#- The var when given (unit tests, a hand-run `--vars`); else env DBT_BATCH_SINCE, set by
        the Dagster dbt asset. The env var is read only while executing: a value read while
        parsing would be part of the parse state, and every new batch would re-parse the whole
        project (~5 s; a changing --vars does the same). Parse-time renders see no batch, which
        only affects SQL that is thrown away. -#}
    {%- set given = var('batch_since', none) -%}
    {%- if given -%}
        {{ return(given) }}
    {%- elif execute -%}
        {{ return(env_var('DBT_BATCH_SINCE', '') or none) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{% macro batch_rows(source_name, table_name, columns) -%}
    {#-
        The batch rows of one raw feed: its rows loaded after batch_since, and the rows that
        a re-delivered partition moved to raw_replaced.<feed> after batch_since (the removed
        versions still touch what they counted in; source raw_replaced, created by the
        partitioned ingest or, empty, by the dbt asset before every build).
    -#}
    {%- set since = batch_since() -%}
    {%- set raw = source(source_name, table_name) -%}
    {#- Without batch_since every model rebuilds everything and reads no batch model: the batch
        models are left empty rather than listing every row (tens of seconds at 10x). -#}
    select {{ columns | join(', ') }}
    from {{ raw }}
    {%- if since %}
    where _loaded_at > cast('{{ since }}' as timestamp)
    {%- else %}
    where false
    {%- endif %}
    union all
    select {{ columns | join(', ') }}
    from {{ source('raw_replaced', table_name) }}
    {%- if since %}
    where _replaced_at > cast('{{ since }}' as timestamp)
    {%- else %}
    where false
    {%- endif %}
{%- endmacro %}


{% macro incremental_config(unique_key=none, replace_where=none, partition_column=none) -%}
    {#-
        The config of an incremental model, behind one macro so that a target without
        delete+insert switches strategy in one place.
        - DuckDB (default), unique_key: dbt's delete+insert (the daily marts, unique_key = their
          grain: a dirty date's rows are all re-selected, so all of them are replaced).
        - DuckDB, replace_where: the custom strategy below deletes the target rows matching the
          predicate, then inserts the model's rows (sessions by date, order facts by order: a key
          left without rows is deleted too). `__name__` in the predicate stands for the relation
          of model `name` (resolved at run time, see replace_where_predicate).
        - Spark / Databricks: a plain table (the Spark target always builds from scratch);
          partition_column names the column an insert_overwrite strategy would partition by.
        on_schema_change fail: a contract change needs a --full-refresh, never a silent drift.
    -#}
    {%- if target.type in ('spark', 'databricks') -%}
        {#- The Spark target builds from scratch (orchestration/spark, --full-refresh): a plain
            table, whose files the mart comparison reads directly. An incremental Spark
            deployment would use insert_overwrite partitioned by partition_column
            (docs/scaling.md); not built or tested here. -#}
        {{ return({'materialized': 'table'}) }}
    {%- elif replace_where -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'replace_where',
            'incremental_predicates': [replace_where],
            'on_schema_change': 'fail',
        }) }}
    {%- else -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'delete+insert',
            'unique_key': unique_key,
            'on_schema_change': 'fail',
        }) }}
    {%- endif -%}
{%- endmacro %}


{% macro replace_where_predicate(predicate) -%}
    {#- `__model_name__` -> that model's relation (from the graph: config is rendered at parse
        time, when ref() does not know the final relation yet).
        `__batch_rows(source.table.column)__` -> that column of the feed's batch rows (macro
        batch_rows; the model must depend on both sources, raw and raw_replaced). -#}
    {%- if not batch_since() -%}
        {#- no batch_since: everything is the batch, the model re-selects every row -#}
        {{ return('true') }}
    {%- endif -%}
    {%- set ns = namespace(sql=predicate) -%}
    {%- for source_name, table_name, column in modules.re.findall(
        '__batch_rows\\((\\w+)\\.(\\w+)\\.(\\w+)\\)__', predicate
    ) -%}
        {%- set placeholder = '__batch_rows(' ~ source_name ~ '.' ~ table_name ~ '.' ~ column ~ ')__' -%}
        {%- set ns.sql = ns.sql | replace(
            placeholder, batch_rows(source_name, table_name, [column])
        ) -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- set placeholder = '__' ~ node.name ~ '__' -%}
        {%- if placeholder in ns.sql -%}
            {%- set ns.sql = ns.sql | replace(placeholder, model_relation(node) | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ns.sql) }}
{%- endmacro %}


{% macro model_relation(node) -%}
    {#- The relation a model node builds (database, schema and alias from the graph). -#}
    {{ return(api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.alias or node.name
    )) }}
{%- endmacro %}


{% macro previous_build_relation(model_name) -%}
    {#- The relation of model `model_name` as the previous build left it, for a batch model
        that runs before it (a ref() would be a dependency cycle); none on a full build, while
        parsing, or when the relation does not exist yet. -#}
    {%- if not (execute and batch_since()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.name == model_name -%}
        {%- set relation = model_relation(node) -%}
        {{ return(adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        )) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{% macro get_incremental_replace_where_sql(arg_dict) -%}
    {#-
        Custom incremental strategy: delete every target row matching the model's
        incremental_predicates, then insert the model's rows (one transaction: the
        materialization commits once, so a killed build leaves the previous table).
    -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set predicates = arg_dict['incremental_predicates'] -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if not predicates -%}
        {{ exceptions.raise_compiler_error('replace_where needs incremental_predicates') }}
    {%- endif %}
    {%- set written = batch_written_relation(target) %}
    delete from {{ target }}
    where {{ replace_where_predicate(predicates | join(' and ')) }};

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }}
    from {{ source }};

    {#- The rows just written, kept for this build's data tests of the model (see
        get_where_subquery.sql), labelled with the invocation that wrote them. Same
        transaction: a build that rolls back leaves the previous copy and label. #}
    create or replace table {{ written }} as
    select {{ dest_cols_csv }}
    from {{ source }};

    comment on table {{ written }} is '{{ invocation_id }}'
{%- endmacro %}


{% macro batch_written_relation(relation) -%}
    {#- Where a replace_where build keeps a copy of the rows it wrote: schema dbt_batch (created
        by the on-run-start hook create_batch_written_schema), table <schema>__<name> of the
        model. Never published; each build of the model replaces it. -#}
    {{ return(api.Relation.create(
        database=relation.database,
        schema='dbt_batch',
        identifier=relation.schema ~ '__' ~ relation.identifier,
    )) }}
{%- endmacro %}


{% macro create_batch_written_schema() -%}
    {#- on-run-start hook: the schema of batch_written_relation, created once per invocation
        before any model runs (DuckDB: two build threads creating it at once would conflict). -#}
    {%- if execute and target.type == 'duckdb' -%}
        {%- do adapter.create_schema(api.Relation.create(
            database=target.database, schema='dbt_batch'
        )) -%}
    {%- endif -%}
{%- endmacro %}


{% macro batch_dates(traffic_only=false) -%}
    {#- SQL of the business dates the batch dirties (int_batch_dates); traffic_only: only those
        its events touch (is_traffic_date), for a model built from events and sessions alone. -#}
    select business_date from {{ ref('int_batch_dates') }}
    {%- if traffic_only %} where is_traffic_date{% endif %}
{%- endmacro %}


{% macro batch_dates_predicate(column, lags=[], window_days=1, extra_dates=none,
    traffic_only=false) -%}
    {#-
        True for the rows of a daily model the batch dirties: `column` is a business date of
        int_batch_dates, or a date that compares against one of them. lags: list of
        [unit, n] (e.g. ['day', 7]) for growth columns (date X reads X - n unit); window_days:
        a rolling window of that many days ending on the row's date (X reads X - window_days + 1
        .. X). extra_dates: SQL of a one-column (business_date) query of further dirty dates.
        traffic_only: the model reads only events and sessions, so only the dates the batch's
        events touch (int_batch_dates.is_traffic_date) can change it, not those of order updates
        or feedback.
    -#}
    {%- set dates = '(' ~ batch_dates(traffic_only) ~ ')' -%}
    (
        {{ column }} in {{ dates }}
        {%- for lag in lags %}
        or cast({{ dbt.dateadd(lag[0], -lag[1], column) }} as date)
        in {{ dates }}
        {%- endfor %}
        {%- if window_days > 1 %}
        or exists (
            select 1
            from {{ dates }} as batch_dates
            where
                batch_dates.business_date <= {{ column }}
                and batch_dates.business_date
                > cast({{ dbt.dateadd('day', -window_days, column) }} as date)
        )
        {%- endif %}
        {%- if extra_dates %}
        or {{ column }} in ({{ extra_dates }})
        {%- endif %}
    )
{%- endmacro %}


{% macro incremental_rows_filter(date_column, grain_columns=[], lags=[], window_days=1,
    extra_dates=none, traffic_only=false) -%}
    {#-
        WHERE clause of a daily model's final select when it builds incrementally: the dirty
        dates (batch_dates_predicate), plus any row whose grain is not in the table yet (a date
        the spine gained, a platform / channel / placement seen for the first time fills its
        whole column of the dense grid). Nothing on a full build, nor without batch_since
        (everything is the batch).
    -#}
    {%- if is_incremental() and batch_since() %}
    where
        {{ batch_dates_predicate(date_column, lags, window_days, extra_dates, traffic_only) }}
        {%- set grain = [date_column] + grain_columns %}
        or ({{ grain | join(', ') }}) not in (
            select ({{ grain | join(', ') }}) from {{ this }}
        )
    {%- endif %}
{%- endmacro %}


{% macro batch_orders_filter(touched_by=['order']) -%}
    {#- WHERE clause of an order-keyed model's inputs when it builds incrementally: the touched
        orders (int_batch_orders). Nothing on a full build, nor without batch_since. -#}
    {%- if is_incremental() and batch_since() %}
    where order_id in (
        select order_id from {{ ref('int_batch_orders') }}
        where touched_by in ('{{ touched_by | join("', '") }}')
    )
    {%- endif %}
{%- endmacro %}


{% macro batch_customers_first_paid_dates() -%}
    {#- The first paid order dates (now) of the customers of the touched orders: a touched order
        can move its customer's first paid order to any other order of the customer (daily_users
        first_time_buyers). The old first paid order date is a touched order's date or still
        the first one. -#}
    select first_paid_order_date from {{ ref('int_customer_facts') }}
    where customer_id in (select customer_id from {{ ref('int_batch_orders') }})
{%- endmacro %}


{% macro resessionized_rows(model_name, ts_column) -%}
    {#- replace_where predicate of a model re-derived from each batch visitor's
        resessionize_from (int_batch_visitors: int_events_sessionized, int_sessions): its rows
        of a batch visitor whose `ts_column` is at or after it. A rowid semi-join (DuckDB): one
        hash join; the same delete as a correlated `exists` with the range took 7.8 s at SF1. -#}
    {{ return(
        'rowid in (select resessionized.rowid from __' ~ model_name ~ '__ as resessionized'
        ~ ' inner join __int_batch_visitors__ as batch_visitors'
        ~ ' on resessionized.visitor_id = batch_visitors.visitor_id'
        ~ ' and resessionized.' ~ ts_column ~ ' >= batch_visitors.resessionize_from)'
    ) }}
{%- endmacro %}


{% macro has_batch() -%}
    {#- SQL true when the build has a batch_since (an incremental batch), false on a full
        build: the batch models are then empty (no model reads them). -#}
    {{- 'true' if batch_since() else 'false' -}}
{%- endmacro %}


{% macro is_batch_build() -%}
    {#- True when the model builds incrementally from a batch: its table exists and the build
        has a batch_since. Models use it to read only the inputs of the dates they rebuild. -#}
    {{ return(is_incremental() and batch_since() is not none) }}
{%- endmacro %}


{% macro rebuild_dates(spine, date_column='business_date', lags=[], window_days=1,
    extra_dates=none, traffic_only=false) -%}
    {#- SQL of the spine dates a batch build of a date-grained daily model rewrites: the rows
        of incremental_rows_filter (grain = the date only). A model reads its inputs for these
        dates instead of aggregating the whole history and filtering last. -#}
    select {{ date_column }} from {{ spine }}
    {{- incremental_rows_filter(date_column, [], lags, window_days, extra_dates, traffic_only) }}
{%- endmacro %}


{% macro batch_keys_where(source_name, table_name, column) -%}
    {#- The WHERE condition of a staging table's source on a batch build: `column` is one of the
        batch rows' (batch_rows). Every version of such a key is re-ranked (the key columns of
        newest_version include `column`); none on a full build. Pairs with the model's
        replace_where "column in (__batch_rows(source.table.column)__)". -#}
    {%- if is_batch_build() -%}
        {{ return(column ~ " in (" ~ batch_rows(source_name, table_name, [column]) ~ ")") }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{% macro rebuilt_dates_where(column) -%}
    {#- WHERE clause of a daily model's input on a batch build: `column` is one of the dates the
        model rewrites (its CTE `rebuilt_dates`, from macro rebuild_dates). Nothing on a full
        build. -#}
    {%- if is_batch_build() %}
    where {{ column }} in (select rebuilt_dates.business_date from rebuilt_dates)
    {%- endif %}
{%- endmacro %}
