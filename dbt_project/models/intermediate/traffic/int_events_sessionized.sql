{#- An incremental build replaces each batch visitor's rows from their resessionize_from on
    (a rowid semi-join: one hash join). A full build writes the visitors of hash bucket 0, and
    one post-hook per further bucket appends that bucket's (macro sessionized_bucket; a hook
    renders after the table is created, when is_incremental() is still false for a new table
    and for --full-refresh). Spark builds it in one statement. -#}
{%- set buckets = var('sessionize_buckets', 8) | int if target.type == 'duckdb' else 1 %}
{%- set bucket_hooks = [] %}
{%- for bucket in range(1, buckets) %}
    {%- do bucket_hooks.append(
        '{% if not is_incremental() %}insert into {{ this }} '
        ~ "{{ sessionized_bucket(ref('stg_tracking__events'), " ~ bucket ~ ', ' ~ buckets ~ ') }}'
        ~ '{% endif %}'
    ) %}
{%- endfor %}
{{ config(
    post_hook=bucket_hooks,
    **incremental_config(rebuilds=resessionized_rows('event_ts'))
) }}
-- depends_on: {{ ref('int_batch_visitors') }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}

-- Tracking events with their session (macro sessionize_events: a gap of more than
-- var('session_timeout_minutes') to the visitor's previous event starts a new session).
-- Incremental: a batch visitor's events from their resessionize_from on are re-sessionized by
-- int_batch_sessionized_events, and these rows replace the visitor's rows from then on; the
-- earlier ones are unchanged (a session depends on the visitor's earlier events only).
{%- if is_incremental() %}

select * from {{ ref('int_batch_sessionized_events') }}
{%- else %}

{{ sessionized_bucket(ref('stg_tracking__events'), 0, buckets) }}
{%- endif %}
