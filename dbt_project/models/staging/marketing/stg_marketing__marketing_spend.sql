with

source as (

    select * from {{ source('marketing', 'marketing_spend') }}

),

renamed as (

    select
        spend_date,
        channel,
        campaign_id,
        impressions,
        clicks,
        spend
    from source

)

select * from renamed
