{#- The months whose sessions the batch can change: those of its traffic dates (the event dates
    and their session days, int_batch_dates.is_traffic_date). -#}
{{ config(**incremental_config(rebuilds="
    month in (
        select cast(date_trunc('month', business_date) as date) from {{ ref('int_batch_dates') }}
        where is_traffic_date
    )
")) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Path analysis (kpi-catalog section 8 "page_paths"), one row per month and path, from the
-- session paths of int_session_paths (sessions with a page view; a session counts in the
-- month of its business day). Per month the var('page_path_top') paths with the most sessions
-- (ties by path) keep their row; the rest, and the path made of page type `other` alone, add
-- up in the row `other`. A path's exit_page_type is its sessions' most frequent exit page
-- type (ties: the first by name). Incremental: a month depends on its own sessions only; a
-- batch build rebuilds the months of its config's rebuilds.

with

session_paths as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as session_month,
        has_purchase,
        page_path,
        exit_page_type
    from {{ ref('int_session_paths') }}
    {%- if is_incremental() %}
    where
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) in (
            select cast({{ dbt.date_trunc('month', 'batch_dates.business_date') }} as date)
            from {{ ref('int_batch_dates') }} as batch_dates
            where batch_dates.is_traffic_date
        )
    {%- endif %}

),

path_exits as (

    select
        session_month,
        page_path,
        exit_page_type,
        count(*) as sessions,
        sum(case when has_purchase then 1 else 0 end) as converted_sessions
    from session_paths
    group by session_month, page_path, exit_page_type

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
