-- New customers (registered accounts) per signup business day and signup channel: the
-- catalog's new_customers / acquisition. Read by marketing_daily (cac), campaign_lift
-- and daily_users (summed over channels).

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

final as (

    select
        signup_date,
        coalesce(signup_channel, 'other') as signup_channel,
        cast(count(*) as {{ dbt.type_bigint() }}) as new_customers
    from customers
    where signup_date is not null
    group by signup_date, coalesce(signup_channel, 'other')

)

select * from final
