with

source as (

    {{ newest_version(
        source('marketing', 'marketing_spend'),
        ['spend_date', 'channel', 'campaign_id']
    ) }}

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
