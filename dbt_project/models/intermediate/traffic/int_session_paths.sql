{#- An incremental build replaces each batch visitor's sessions from their resessionize_from
    on: the sessions int_events_sessionized re-derived (as int_sessions). -#}
{{ config(**incremental_config(rebuilds=resessionized_rows('started_at'))) }}
-- depends_on: {{ ref('int_batch_visitors') }}
-- depends_on: {{ ref('int_batch_sessionized_events') }}
{%- set steps = var('page_path_steps') | int %}

-- The page path of every session with a page view (page_paths): its first up to
-- var('page_path_steps') distinct consecutive page types (repeats collapse: home, home,
-- product -> home>product), joined with '>', a page view without page_type counting as
-- 'unknown'; its exit page type is the page type of its last page view. With the session's
-- business day and purchase flag (as int_sessions), so that page_paths reads this table alone.
-- A batch build reads the whole sessions int_batch_sessionized_events re-derived.

with

starts as (

    -- a session's first event (session_id is its event_id): its visitor, start and day
    select
        session_id,
        visitor_id,
        event_ts as started_at,
        event_date as business_date
    from {{ sessionized_events_to_read() }}
    where event_seq = 1

),

purchases as (

    select distinct session_id
    from {{ sessionized_events_to_read() }}
    where event_type = 'purchase'

),

page_views as (

    select
        session_id,
        page_view_seq,
        coalesce(page_type, 'unknown') as page_type
    from {{ sessionized_events_to_read() }}
    where event_type = 'page_view'

),

flagged as (

    select
        session_id,
        page_view_seq,
        page_type,
        page_type = lag(page_type) over session_page_views as is_repeat,
        lead(page_view_seq) over session_page_views is null as is_exit
    from page_views
    window session_page_views as (partition by session_id order by page_view_seq)

),

stepped as (

    -- a page view starts a step unless it repeats the page type before it; the repeats other
    -- than the exit page view add nothing
    select
        session_id,
        page_type,
        is_exit,
        sum(case when is_repeat then 0 else 1 end) over (
            partition by session_id
            order by page_view_seq
            rows between unbounded preceding and current row
        ) as step_number
    from flagged
    where is_exit or not coalesce(is_repeat, false)

),

session_paths as (

    select
        session_id,
        concat_ws(
            '>'
            {%- for step in range(1, steps + 1) %},
            max(case when step_number = {{ step }} then page_type end)
            {%- endfor %}
        ) as page_path,
        max(case when is_exit then page_type end) as exit_page_type
    from stepped
    group by session_id

),

final as (

    select
        starts.session_id,
        starts.visitor_id,
        starts.started_at,
        starts.business_date,
        purchases.session_id is not null as has_purchase,
        session_paths.page_path,
        session_paths.exit_page_type
    from session_paths
    inner join starts
        on session_paths.session_id = starts.session_id
    left join purchases
        on session_paths.session_id = purchases.session_id

)

select * from final
