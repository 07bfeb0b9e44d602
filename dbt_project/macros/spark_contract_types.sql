{#
    Spark only: the contract check casts NULL to each declared column type of a mart
    (dbt's get_empty_schema_sql). The marts' YAML types are the warehouse's portable names; Spark
    has no VARCHAR without a length and spells it STRING, so map it before the check. The other
    declared types (bigint, integer, double, decimal(18,2), date, timestamp, boolean) are valid
    Spark SQL as they are. Overrides dbt's dispatched macro for the spark adapter only.
#}

{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set spark_columns = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set spark_column = {} -%}
        {%- do spark_column.update(column) -%}
        {%- if column.get('data_type') is not none -%}
            {%- do spark_column.update({'data_type': spark_source_type(column['data_type'])}) -%}
        {%- endif -%}
        {%- do spark_columns.update({name: spark_column}) -%}
    {%- endfor -%}
    {{ dbt.default__get_empty_schema_sql(spark_columns) }}
{%- endmacro %}
