-- Customer counts and value per segment of the snapshot (kpi-catalog section 4), one row per
-- (dimension, segment) for dimension rfm_segment, lifecycle_stage and member_tier, every
-- known segment listed (zeros and NULL ratios when empty). Value KPIs use the RFM window of
-- customer_snapshot: revenue = monetary (net revenue), paid orders = frequency.

with

snapshot as (

    select * from {{ ref('customer_snapshot') }}

),

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

segments as (

    {% set segments = {
        'rfm_segment': [
            'champions', 'loyal', 'potential_loyalist', 'new', 'at_risk', 'cannot_lose',
            'hibernating', 'lost', 'prospect'
        ],
        'lifecycle_stage': ['new', 'active', 'dormant', 'churned', 'prospect'],
        'member_tier': ['platinum', 'gold', 'silver', 'regular']
    } %}
    {%- for dimension, values in segments.items() %}
    {%- for value in values %}
    select
        '{{ dimension }}' as dimension,
        '{{ value }}' as segment,
        {{ loop.index }} as segment_order
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

long as (

    {%- for dimension in ['rfm_segment', 'lifecycle_stage', 'member_tier'] %}
    select
        '{{ dimension }}' as dimension,
        {{ dimension }} as segment,
        frequency,
        monetary,
        paid_revenue_window
    from snapshot
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

aggregated as (

    select
        dimension,
        segment,
        count(*) as customers,
        sum(case when frequency >= 1 then 1 else 0 end) as buyers,
        sum(case when frequency >= 2 then 1 else 0 end) as repeat_buyers,
        sum(frequency) as paid_orders,
        sum(paid_revenue_window) as paid_revenue,
        sum(monetary) as revenue
    from long
    group by dimension, segment

),

totals as (

    select sum(monetary) as total_revenue from snapshot

),

final as (

    select
        snapshot_date.as_of_date,
        segments.dimension,
        segments.segment,
        cast(coalesce(aggregated.customers, 0) as {{ dbt.type_bigint() }}) as customers,
        {{ safe_divide('coalesce(aggregated.revenue, 0)', 'totals.total_revenue') }}
            as revenue_share,
        {{ safe_divide('aggregated.repeat_buyers', 'aggregated.buyers') }} as repurchase_rate,
        cast(
            {{ safe_divide('aggregated.paid_revenue', 'aggregated.paid_orders') }}
            as {{ type_money() }}
        ) as aov,
        cast(coalesce(aggregated.revenue, 0) as {{ type_money() }}) as revenue,
        cast(coalesce(aggregated.buyers, 0) as {{ dbt.type_bigint() }}) as buyers,
        cast(coalesce(aggregated.repeat_buyers, 0) as {{ dbt.type_bigint() }}) as repeat_buyers,
        cast(coalesce(aggregated.paid_orders, 0) as {{ dbt.type_bigint() }}) as paid_orders,
        cast(segments.segment_order as {{ dbt.type_int() }}) as segment_order
    from segments
    cross join snapshot_date
    cross join totals
    left join aggregated
        on
            segments.dimension = aggregated.dimension
            and segments.segment = aggregated.segment

)

select * from final
