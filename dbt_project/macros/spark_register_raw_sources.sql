{#
    Spark target only (on-run-start hook; a no-op on every other adapter): declare each dbt
    source table as a Spark table over the Parquet export of the DuckDB raw tables
    (python -m orchestration.spark export): <raw_dir>/<schema>/<table>/. raw_dir is env
    SPARK_RAW_DIR, default $SPARK_DIR/raw. The columns and types come from the source YAML, so
    Spark needs no schema inference and a table the export did not write (e.g. no
    raw_replaced yet) reads as empty. Dropped and re-created every run (dropping an external
    table keeps its files): the metastore persists across runs and must not keep a stale schema.
#}

{% macro spark_register_raw_sources() -%}
    {%- if execute and target.type == 'spark' -%}
        {%- set raw_dir = env_var('SPARK_RAW_DIR', '') or ((env_var('SPARK_DIR', '') or 'data/spark') ~ '/raw') -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
            {%- if source.schema not in schemas -%}
                {%- do run_query('create database if not exists ' ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- set relation = source.schema ~ '.' ~ source.identifier -%}
            {%- set columns = [] -%}
            {#- a jinja namespace: a plain `set` inside the loop below would not outlive it -#}
            {%- set ns = namespace(declared=source.columns.values() | list) -%}
            {%- set extra = [] -%}
            {%- if not ns.declared and source.schema == 'raw_replaced' -%}
                {#- raw_replaced.<feed> = the raw feed's columns + when and by which load -#}
                {%- for raw in graph.sources.values() -%}
                    {%- if raw.schema == 'raw' and raw.identifier == source.identifier -%}
                        {%- set ns.declared = raw.columns.values() | list -%}
                    {%- endif -%}
                {%- endfor -%}
                {%- do extra.extend(['`_replaced_at` timestamp', '`_replaced_by` string']) -%}
            {%- endif -%}
            {%- for column in ns.declared -%}
                {%- do columns.append(
                    '`' ~ column.name ~ '` ' ~ spark_source_type(column.data_type)
                ) -%}
            {%- endfor -%}
            {%- do columns.extend(extra) -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
            {%- do run_query(
                'create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ') using parquet'
                ~ " location '" ~ raw_dir ~ '/' ~ source.schema ~ '/' ~ source.identifier ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The source YAML types are DuckDB's; Spark spells varchar (without a length) string. -#}
{% macro spark_source_type(data_type) -%}
    {%- set t = (data_type or 'string') | lower | trim -%}
    {{- 'string' if t in ('varchar', 'text') else t -}}
{%- endmacro %}
