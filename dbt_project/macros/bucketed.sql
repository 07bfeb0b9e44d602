{% macro sessionize_buckets() -%}
    {#- How many visitor hash buckets a full build of the sessions models goes through: var
        sessionize_buckets on DuckDB (each bucket's sorts fit in the memory limit), 1 on Spark
        (one statement). -#}
    {{ return(var('sessionize_buckets') | int if target.type == 'duckdb' else 1) }}
{%- endmacro %}


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


{% macro visitor_bucket_hooks(build_macro, relation_name) -%}
    {#- The post-hooks of a model built bucket by bucket: one per bucket 1 .. n - 1 (n =
        sessionize_buckets()), each appending `build_macro`'s select over that bucket of
        ref(relation_name); the model's own statement builds bucket 0. Jinja text: a hook renders
        after the table is created, when is_incremental() is still false for a new table and
        for --full-refresh, so only a full build runs them. -#}
    {%- set buckets = sessionize_buckets() -%}
    {%- set hooks = [] -%}
    {%- for bucket in range(1, buckets) -%}
        {%- do hooks.append(
            '{% if not is_incremental() %}insert into {{ this }} {{ ' ~ build_macro
            ~ "(visitor_bucket(ref('" ~ relation_name ~ "'), " ~ bucket ~ ', ' ~ buckets
            ~ ')) }}{% endif %}'
        ) -%}
    {%- endfor -%}
    {{ return(hooks) }}
{%- endmacro %}
