{#- One row per session (macro aggregate_sessions; see int_events_sessionized). An incremental
    build replaces each batch visitor's sessions from their resessionize_from on: the sessions
    int_events_sessionized re-derived. A full build writes the sessions of the visitors of hash
    bucket 0 and its post-hooks append the other buckets' (macro visitor_bucket_hooks; a
    session belongs to one visitor). Spark builds it in one statement. -#}
{{ config(
    post_hook=visitor_bucket_hooks('aggregate_sessions', 'int_events_sessionized'),
    **incremental_config(rebuilds=resessionized_rows('started_at'))
) }}
-- depends_on: {{ ref('int_batch_visitors') }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}

{% if is_incremental() -%}
{{ aggregate_sessions(sessionized_events_to_read()) }}
{%- else -%}
{{ aggregate_sessions(visitor_bucket(ref('int_events_sessionized'), 0, sessionize_buckets())) }}
{%- endif %}
