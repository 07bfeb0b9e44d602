with

source as (

    {{ newest_version(
        source('tracking', 'experiment_assignments'),
        ['experiment_id', 'visitor_id']
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
