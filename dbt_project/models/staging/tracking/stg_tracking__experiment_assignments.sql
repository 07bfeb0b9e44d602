{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. An incremental build re-stages the visitor_ids of the batch. -#}
{{ config(**incremental_config(
    rebuilds="visitor_id in (select visitor_id from"
    ~ " {{ ref('stg_tracking__experiment_assignments_batch') }})"
)) }}
-- depends_on: {{ ref('stg_tracking__experiment_assignments_batch') }}

with

source as (

    {{ newest_version(
        source('tracking', 'experiment_assignments'),
        ['experiment_id', 'visitor_id'],
        where=(
            'visitor_id in (select visitor_id from '
            ~ ref('stg_tracking__experiment_assignments_batch') ~ ')'
        ) if is_incremental() else none
    ) }}

),

renamed as (

    select
        experiment_id,
        visitor_id,
        variant,
        assigned_ts,
        {{ to_business_date('assigned_ts') }} as assigned_date
    from source

)

select * from renamed
