{#- An incremental build replaces each batch visitor's rows from their resessionize_from on
    (a rowid semi-join: one hash join). A full build writes the visitors of hash bucket 0 and
    its post-hooks append the other buckets' (macro visitor_bucket_hooks). Spark builds it in
    one statement. -#}
{{ config(
    post_hook=visitor_bucket_hooks('sessionize_relation', 'stg_tracking__events'),
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

{{ sessionize_relation(visitor_bucket(ref('stg_tracking__events'), 0, sessionize_buckets())) }}
{%- endif %}
