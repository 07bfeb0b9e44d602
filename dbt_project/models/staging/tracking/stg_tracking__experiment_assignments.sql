{#- An incremental table (like stg_tracking__events): the dedupe ran once per reader and per
    data test of a view. A batch build re-stages every assignment of the batch rows' visitors. -#}
{{ config(**incremental_config(
    replace_where="visitor_id in (__batch_rows(tracking.experiment_assignments.visitor_id)__)"
)) }}
-- depends_on: {{ source('raw_replaced', 'experiment_assignments') }}

with

source as (

    {{ newest_version(
        source('tracking', 'experiment_assignments'),
        ['experiment_id', 'visitor_id'],
        where=batch_keys_where('tracking', 'experiment_assignments', 'visitor_id')
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
