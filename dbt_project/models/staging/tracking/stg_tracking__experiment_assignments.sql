with

source as (

    select * from {{ source('tracking', 'experiment_assignments') }}

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
