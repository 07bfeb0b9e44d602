{{ config(**incremental_config(unique_key=['business_date', 'channel', 'campaign_id'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Marketing effectiveness per business day, channel and campaign (kpi-catalog section 5).
-- Spend, impressions and clicks come from the spend feed (spend_date). Orders are attributed by
-- last touch (int_order_purchase_sessions, shared with the traffic marts; orders without a
-- tracked purchase event, is_attributed false, are left out) to the day of the order
-- (order_date); attributed_orders / attributed_revenue count paid orders only (count and sum
-- of order_value), so roas = paid revenue / spend. Sessions without utm_campaign have
-- campaign_id '(none)'. Every channel also has a row campaign_id = 'all' holding the
-- channel's totals; only those rows carry new_customers (signups by signup_channel, which has
-- no campaign) and cac = spend / new_customers (NULL when the channel has no spend: its
-- acquisition cost is unknown, not 0).
-- Every (channel, campaign_id) seen in the data gets a row on every day of
-- int_date_spine (zeros and NULL ratios on inactive days).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

spend as (

    select * from {{ ref('stg_marketing__marketing_spend') }}

),

attributed_paid_orders as (

    select
        order_id,
        order_date,
        order_value,
        channel,
        utm_campaign as campaign_id
    from {{ ref('int_order_purchase_sessions') }}
    where is_attributed and is_paid

),

signups as (

    select * from {{ ref('int_customer_signups_daily') }}

),

spend_daily as (

    select
        spend_date as business_date,
        channel,
        campaign_id,
        sum(spend) as spend,
        sum(coalesce(impressions, 0)) as impressions,
        sum(coalesce(clicks, 0)) as clicks
    from spend
    group by spend_date, channel, campaign_id

),

attributed_daily as (

    select
        order_date as business_date,
        channel,
        coalesce(campaign_id, '(none)') as campaign_id,
        count(*) as attributed_orders,
        sum(order_value) as attributed_revenue
    from attributed_paid_orders
    group by order_date, channel, coalesce(campaign_id, '(none)')

),

campaign_keys as (

    select
        channel,
        campaign_id
    from spend_daily
    union
    select
        channel,
        campaign_id
    from attributed_daily

),

channel_keys as (

    select channel from campaign_keys
    union
    select signup_channel as channel from signups

),

grid as (

    select
        spine.business_date,
        campaign_keys.channel,
        campaign_keys.campaign_id
    from spine
    cross join campaign_keys

),

campaign_rows as (

    select
        grid.business_date,
        grid.channel,
        grid.campaign_id,
        coalesce(spend_daily.spend, 0) as spend,
        coalesce(spend_daily.impressions, 0) as impressions,
        coalesce(spend_daily.clicks, 0) as clicks,
        coalesce(attributed_daily.attributed_orders, 0) as attributed_orders,
        coalesce(attributed_daily.attributed_revenue, 0) as attributed_revenue
    from grid
    left join spend_daily
        on
            grid.business_date = spend_daily.business_date
            and grid.channel = spend_daily.channel
            and grid.campaign_id = spend_daily.campaign_id
    left join attributed_daily
        on
            grid.business_date = attributed_daily.business_date
            and grid.channel = attributed_daily.channel
            and grid.campaign_id = attributed_daily.campaign_id

),

channel_totals as (

    select
        business_date,
        channel,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(attributed_orders) as attributed_orders,
        sum(attributed_revenue) as attributed_revenue
    from campaign_rows
    group by business_date, channel

),

channel_rows as (

    select
        spine.business_date,
        channel_keys.channel,
        'all' as campaign_id,
        coalesce(channel_totals.spend, 0) as spend,
        coalesce(channel_totals.impressions, 0) as impressions,
        coalesce(channel_totals.clicks, 0) as clicks,
        coalesce(channel_totals.attributed_orders, 0) as attributed_orders,
        coalesce(channel_totals.attributed_revenue, 0) as attributed_revenue,
        coalesce(signups.new_customers, 0) as new_customers
    from spine
    cross join channel_keys
    left join channel_totals
        on
            spine.business_date = channel_totals.business_date
            and channel_keys.channel = channel_totals.channel
    left join signups
        on
            spine.business_date = signups.signup_date
            and channel_keys.channel = signups.signup_channel

),

unioned as (

    select
        business_date,
        channel,
        campaign_id,
        spend,
        impressions,
        clicks,
        attributed_orders,
        attributed_revenue,
        cast(null as {{ dbt.type_bigint() }}) as new_customers
    from campaign_rows
    union all
    select
        business_date,
        channel,
        campaign_id,
        spend,
        impressions,
        clicks,
        attributed_orders,
        attributed_revenue,
        new_customers
    from channel_rows

),

final as (

    select
        business_date,
        channel,
        campaign_id,
        cast(spend as {{ type_money() }}) as spend,
        cast(impressions as {{ dbt.type_bigint() }}) as impressions,
        cast(clicks as {{ dbt.type_bigint() }}) as clicks,
        {{ safe_divide('clicks', 'impressions') }} as ad_ctr,
        cast(attributed_orders as {{ dbt.type_bigint() }}) as attributed_orders,
        cast(attributed_revenue as {{ type_money() }}) as attributed_revenue,
        {{ safe_divide('attributed_revenue', 'spend') }} as roas,
        cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
        cast(
            {{ safe_divide('nullif(spend, 0)', 'new_customers') }} as {{ type_money() }}
        ) as cac
    from unioned

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['channel', 'campaign_id']
) }}
