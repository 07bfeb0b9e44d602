-- User portrait (kpi-catalog section 4, 用户画像): buyers (customers with a paid order in the
-- loaded data) and their paid revenue (sum of order_value of their paid orders, before
-- refunds) by age band (macro age_band, age at the snapshot date's year), gender, region, most
-- used device and preferred category (int_customer_facts). Missing values are `unknown`; each
-- dimension's buyers add up to all buyers.

with

customers as (

    select * from {{ ref('int_customer_facts') }}

),

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

buyers as (

    select
        {{ age_band('customers.birth_year', 'snapshot_date.as_of_date') }} as age_band,
        coalesce(customers.gender, 'unknown') as gender,
        coalesce(customers.region, 'unknown') as region,
        coalesce(customers.preferred_device, 'unknown') as device,
        coalesce(customers.preferred_category, 'unknown') as preferred_category,
        customers.paid_orders,
        customers.paid_revenue,
        customers.net_revenue
    from customers
    cross join snapshot_date
    where customers.is_buyer

),

long as (

    {%- for dimension in ['age_band', 'gender', 'region', 'device', 'preferred_category'] %}
    select
        '{{ dimension }}' as dimension,
        {{ dimension }} as segment,
        paid_orders,
        paid_revenue,
        net_revenue
    from buyers
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

aggregated as (

    select
        dimension,
        segment,
        count(*) as buyers,
        sum(paid_revenue) as paid_revenue,
        sum(paid_orders) as paid_orders,
        sum(net_revenue) as net_revenue
    from long
    group by dimension, segment

),

final as (

    select
        dimension,
        segment,
        cast(buyers as {{ dbt.type_bigint() }}) as buyers,
        cast(paid_revenue as {{ type_money() }}) as paid_revenue,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        cast(net_revenue as {{ type_money() }}) as net_revenue,
        {{ safe_divide('buyers', 'sum(buyers) over (partition by dimension)') }} as buyer_share,
        {{ safe_divide('paid_revenue', 'sum(paid_revenue) over (partition by dimension)') }}
            as revenue_share
    from aggregated

)

select * from final
