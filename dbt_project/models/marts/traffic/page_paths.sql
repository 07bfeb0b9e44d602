{#- The months whose sessions the batch can change: those of its traffic dates (the event dates
    and their session days, int_batch_dates.is_traffic_date). -#}
{{ config(**incremental_config(rebuilds="
    month in (
        select cast(date_trunc('month', business_date) as date) from {{ ref('int_batch_dates') }}
        where is_traffic_date
    )
")) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Path analysis (kpi-catalog section 8 "page_paths"), one row per month and path. A session's
-- path is its first up to var('page_path_steps') distinct consecutive page types (repeats
-- collapse: home, home, product -> home>product), joined with '>'; its exit page type is the
-- page type of its last page view. A session counts in the month of its business day. Per
-- month the var('page_path_top') paths with the most sessions (ties by path) keep their row;
-- the rest, and the path made of page type `other` alone, add up in the row `other`. A path's
-- exit_page_type is its sessions' most frequent exit page type (ties: the first by name).
-- Sessions without a page view have no path and are left out. Incremental: a month depends on
-- its own sessions only; a batch build rebuilds the months of its config's rebuilds, reading
-- the page views of their sessions only.
{%- set steps = var('page_path_steps') | int %}
{%- set in_rebuilt_months %}
{%- if is_incremental() %}
        and cast({{ dbt.date_trunc('month', 'business_date') }} as date)
        in (select rebuilt_months.session_month from rebuilt_months)
{%- endif %}
{%- endset %}
{%- set of_rebuilt_sessions %}
{%- if is_incremental() %}
        -- a session's events are on or after its first day
        and event_date >= (select min(rebuilt_months.session_month) from rebuilt_months)
        and session_id in (select sessions.session_id from sessions)
{%- endif %}
{%- endset %}

with
{%- if is_incremental() %}

rebuilt_months as (

    -- the months of the config's rebuilds
    select distinct cast({{ dbt.date_trunc('month', 'business_date') }} as date) as session_month
    from {{ ref('int_batch_dates') }}
    where is_traffic_date

),
{%- endif %}

sessions as (

    select
        session_id,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as session_month,
        has_purchase
    from {{ ref('int_sessions') }}
    where
        page_views > 0
        {{- in_rebuilt_months }}

),

page_views as (

    select
        session_id,
        page_view_seq,
        coalesce(page_type, 'unknown') as page_type
    from {{ ref('int_events_sessionized') }}
    where
        event_type = 'page_view'
        {{- of_rebuilt_sessions }}

),

flagged as (

    select
        session_id,
        page_view_seq,
        page_type,
        case
            when
                page_type = lag(page_type) over (
                    partition by session_id order by page_view_seq
                )
                then 0
            else 1
        end as is_new_step,
        lead(page_view_seq) over (
            partition by session_id order by page_view_seq
        ) is null as is_exit
    from page_views

),

stepped as (

    select
        session_id,
        page_type,
        is_exit,
        sum(is_new_step) over (
            partition by session_id
            order by page_view_seq
            rows between unbounded preceding and current row
        ) as step_number
    from flagged

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

path_exits as (

    select
        sessions.session_month,
        session_paths.page_path,
        session_paths.exit_page_type,
        count(*) as sessions,
        sum(case when sessions.has_purchase then 1 else 0 end) as converted_sessions
    from sessions
    inner join session_paths
        on sessions.session_id = session_paths.session_id
    group by sessions.session_month, session_paths.page_path, session_paths.exit_page_type

),

path_ranks as (

    select
        session_month,
        page_path,
        row_number() over (
            partition by session_month
            order by sum(sessions) desc, page_path asc
        ) as path_rank
    from path_exits
    where page_path <> 'other'
    group by session_month, page_path

),

bucketed as (

    select
        path_exits.session_month,
        case
            when path_ranks.path_rank <= {{ var('page_path_top') | int }}
                then path_exits.page_path
            else 'other'
        end as page_path,
        path_exits.exit_page_type,
        path_exits.sessions,
        path_exits.converted_sessions
    from path_exits
    left join path_ranks
        on
            path_exits.session_month = path_ranks.session_month
            and path_exits.page_path = path_ranks.page_path

),

bucket_exits as (

    select
        session_month,
        page_path,
        exit_page_type,
        sum(sessions) as sessions,
        sum(converted_sessions) as converted_sessions
    from bucketed
    group by session_month, page_path, exit_page_type

),

ranked_exits as (

    select
        bucket_exits.*,
        sum(bucket_exits.sessions) over (
            partition by bucket_exits.session_month, bucket_exits.page_path
        ) as path_sessions,
        sum(bucket_exits.converted_sessions) over (
            partition by bucket_exits.session_month, bucket_exits.page_path
        ) as path_converted_sessions,
        row_number() over (
            partition by bucket_exits.session_month, bucket_exits.page_path
            order by bucket_exits.sessions desc, bucket_exits.exit_page_type asc
        ) as exit_rank
    from bucket_exits

),

final as (

    select
        session_month as month,  -- noqa: RF04
        page_path as path,  -- noqa: RF04
        cast(path_sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(path_converted_sessions as {{ dbt.type_bigint() }}) as converted_sessions,
        {{ safe_divide('path_converted_sessions', 'path_sessions') }} as conversion_rate,
        exit_page_type,
        cast(sessions as {{ dbt.type_bigint() }}) as exit_page_sessions
    from ranked_exits
    where exit_rank = 1

)

select * from final
