with

source as (

    {{ newest_version(source('feedback', 'surveys'), ['response_id']) }}

),

renamed as (

    select
        response_id,
        customer_id,
        survey_type,
        score,
        response_ts,
        {{ to_business_date('response_ts') }} as response_date,
        comment
    from source

)

select * from renamed
