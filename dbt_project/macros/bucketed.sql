{% macro visitor_bucket(relation, bucket, buckets) -%}
    {#- The rows of `relation` whose visitor falls in hash bucket `bucket` of `buckets` (the
        whole relation when buckets is 1). A full build of a model whose rows depend on one
        visitor's rows each can build it bucket by bucket: each bucket's sorts, aggregates and
        joins fit in the memory limit. -#}
    {%- if buckets > 1 -%}
        (select * from {{ relation }} where hash(visitor_id) % {{ buckets }} = {{ bucket }})
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
