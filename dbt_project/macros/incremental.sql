{#
    Incremental builds (docs/incremental.md). The batch of a build = the raw rows loaded after
    batch_since() plus the raw_replaced rows replaced after it. The batch models (the
    stg_*_batch views, intermediate/calendar/int_batch_*) list what it touches, and each
    incremental model names the rows it rebuilds with plain ref()s to them.
#}

{% macro batch_since() -%}
    {#- The var when given (unit tests, a hand-run `--vars`); else env DBT_BATCH_SINCE, set by
        the Dagster dbt asset. Read only while executing: a value read while parsing would be
        part of the parse state, and every new batch would re-parse the project. -#}
    {%- set given = var('batch_since', none) -%}
    {%- if given -%}
        {{ return(given) }}
    {%- elif execute -%}
        {{ return(env_var('DBT_BATCH_SINCE', '') or none) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{% macro has_batch() -%}
    {#- SQL false on a --full-refresh (unless a var batch_since is given, as in unit tests): no
        model reads a batch model then. Without batch_since (a hand-run build) all rows are. -#}
    {{- 'false' if flags.FULL_REFRESH and not var('batch_since', none) else 'true' -}}
{%- endmacro %}


{% macro batch_rows(source_name, table_name, columns) -%}
    {#- The batch rows of one raw feed: its rows loaded after batch_since, and the row versions
        a re-delivered partition moved to raw_replaced.<feed> after it (they still touch what
        they counted in). -#}
    {%- set since = batch_since() -%}
    {%- for relation, time_column in [
        (source(source_name, table_name), '_loaded_at'),
        (source('raw_replaced', table_name), '_replaced_at'),
    ] %}
    select {{ columns | join(', ') }}
    from {{ relation }}
    where {{ has_batch() }}
    {%- if since %} and {{ time_column }} > cast('{{ since }}' as timestamp){% endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}


{% macro incremental_config(rebuilds=none, unique_key=none) -%}
    {#-
        The config of an incremental model (on_schema_change fail: a contract change needs a
        --full-refresh). Spark / Databricks builds from scratch: a plain table.
        - rebuilds: SQL condition on the model's rows, its ref()s written as Jinja in the string
          ("order_id in (select order_id from {{ ref('int_batch_orders') }})"). An incremental
          build deletes those rows (a pre-hook: hooks render at run time, when ref() resolves),
          then inserts the model's rows (strategy append_kept), in one transaction.
        - unique_key (the daily marts): dbt's delete+insert on the grain.
    -#}
    {%- if target.type in ('spark', 'databricks') -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {%- set config = {'materialized': 'incremental', 'on_schema_change': 'fail'} -%}
    {%- if rebuilds -%}
        {%- do config.update({
            'incremental_strategy': 'append_kept',
            'pre_hook': '{% if is_incremental() %}delete from {{ this }} where '
                ~ rebuilds ~ '{% endif %}',
        }) -%}
    {%- else -%}
        {%- do config.update({
            'incremental_strategy': 'delete+insert', 'unique_key': unique_key
        }) -%}
    {%- endif -%}
    {{ return(config) }}
{%- endmacro %}


{% macro get_incremental_append_kept_sql(arg_dict) -%}
    {#- Strategy append_kept: insert the model's rows (its pre-hook deleted the rows it
        rebuilds), and keep a copy of them for this build's data tests (get_where_subquery.sql),
        entered in dbt's relation cache, where the tests look it up. One transaction: a killed
        build leaves the previous table. -#}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set kept = kept_rows_relation(arg_dict['target_relation']) -%}
    {%- do adapter.cache_added(kept) %}
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }};

    create or replace table {{ kept }} as
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}


{% macro kept_rows_relation(relation) -%}
    {#- Where append_kept keeps the rows it wrote: schema dbt_batch, table <schema>__<model>. -#}
    {{ return(api.Relation.create(
        database=relation.database,
        schema='dbt_batch',
        identifier=relation.schema ~ '__' ~ relation.identifier,
        type='table',
    )) }}
{%- endmacro %}


{% macro reset_kept_rows() -%}
    {#- on-run-start hook: drop and recreate schema dbt_batch, so that every copy in it was
        written by this invocation (before any model runs: no two threads create it). -#}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set schema = api.Relation.create(database=target.database, schema='dbt_batch') -%}
        {%- do adapter.drop_schema(schema) -%}
        {%- do adapter.create_schema(schema) -%}
    {%- endif -%}
{%- endmacro %}


{% macro incremental_rows_filter(date_column, grain_columns=[], lags=[], window_days=1,
    extra_dates=none, traffic_only=false) -%}
    {#-
        WHERE clause of a daily mart's final select on an incremental build: the dates of
        int_batch_dates (traffic_only: its is_traffic_date ones), the dates that read one of
        them (lags: [unit, n] growth comparisons; window_days: a rolling window ending on the
        row's date), the dates of the SQL `extra_dates`, and any row whose grain is not in the
        table yet (a date new to the spine, a dense-grid key seen for the first time).
    -#}
    {%- if is_incremental() %}
    {%- set dates -%}
        (select business_date from {{ ref('int_batch_dates') }}
        {%- if traffic_only %} where is_traffic_date{% endif %})
    {%- endset %}
    {%- set grain = [date_column] + grain_columns %}
    where
        {{ date_column }} in {{ dates }}
        {%- for lag in lags %}
        or cast({{ dbt.dateadd(lag[0], -lag[1], date_column) }} as date) in {{ dates }}
        {%- endfor %}
        {%- if window_days > 1 %}
        or exists (
            select 1 from {{ dates }} as batch_dates
            where
                batch_dates.business_date <= {{ date_column }}
                and batch_dates.business_date
                > cast({{ dbt.dateadd('day', -window_days, date_column) }} as date)
        )
        {%- endif %}
        {%- if extra_dates %}
        or {{ date_column }} in ({{ extra_dates }})
        {%- endif %}
        or ({{ grain | join(', ') }}) not in (select ({{ grain | join(', ') }}) from {{ this }})
    {%- endif %}
{%- endmacro %}
