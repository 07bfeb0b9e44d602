with

source as (

    {{ newest_version(source('marketing', 'campaigns'), ['campaign_id']) }}

),

renamed as (

    select
        campaign_id,
        campaign_name,
        campaign_type,
        channel,
        start_date,
        end_date,
        budget
    from source

)

select * from renamed
