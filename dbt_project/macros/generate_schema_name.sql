{#
    Use a model's custom schema as is (`+schema: marts` -> `marts`, not `main_marts`), so the
    warehouse has exactly the schemas staging, intermediate and marts; models without a custom
    schema go to the target schema.
#}

{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
