{#- One row per session (macro aggregate_sessions; see int_events_sessionized). An incremental
    build replaces each batch visitor's sessions from their resessionize_from on: the sessions
    int_events_sessionized re-derived. A full build writes the sessions of the visitors of hash
    bucket 0, and one post-hook per further bucket appends that bucket's (a session belongs to
    one visitor; a hook renders after the table is created, when is_incremental() is still
    false for a new table and for --full-refresh). Spark builds it in one statement. -#}
{%- set buckets = var('sessionize_buckets', 8) | int if target.type == 'duckdb' else 1 %}
{%- set bucket_hooks = [] %}
{%- for bucket in range(1, buckets) %}
    {%- do bucket_hooks.append(
        '{% if not is_incremental() %}insert into {{ this }} '
        ~ "{{ aggregate_sessions(visitor_bucket(ref('int_events_sessionized'), "
        ~ bucket ~ ', ' ~ buckets ~ ')) }}{% endif %}'
    ) %}
{%- endfor %}
{{ config(
    post_hook=bucket_hooks,
    **incremental_config(rebuilds=resessionized_rows('started_at'))
) }}
-- depends_on: {{ ref('int_batch_visitors') }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}

{% if is_incremental() -%}
{{ aggregate_sessions(sessionized_events_to_read()) }}
{%- else -%}
{{ aggregate_sessions(visitor_bucket(ref('int_events_sessionized'), 0, buckets)) }}
{%- endif %}
