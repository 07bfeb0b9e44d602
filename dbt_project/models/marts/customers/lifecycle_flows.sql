-- Month-over-month lifecycle flows (kpi-catalog section 4): for each month of int_date_spine
-- up to the snapshot date, customers by (stage at the previous month end, stage at this month
-- end) (int_customer_month_end_stages). from_stage `none` = not yet signed up at the previous
-- month end. Every from x to combination is listed (0 when no customer moved that way).

with

stages as (

    select * from {{ ref('int_customer_month_end_stages') }}

),

spine as (

    select * from {{ ref('int_date_spine') }}

),

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

spine_months as (

    select distinct month_start from spine

),

stage_pairs as (

    {%- set stages = ['prospect', 'new', 'active', 'dormant', 'churned'] %}
    {%- for from_stage in ['none'] + stages %}
    {%- for to_stage in stages %}
    select
        '{{ from_stage }}' as from_stage,
        '{{ to_stage }}' as to_stage
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

moves as (

    select
        current_stage.month_start,
        coalesce(previous_stage.lifecycle_stage, 'none') as from_stage,
        current_stage.lifecycle_stage as to_stage,
        count(*) as customers
    from stages as current_stage
    left join stages as previous_stage
        on
            current_stage.customer_id = previous_stage.customer_id
            and previous_stage.month_start
            = cast({{ dbt.dateadd('month', -1, 'current_stage.month_start') }} as date)
    group by
        current_stage.month_start,
        coalesce(previous_stage.lifecycle_stage, 'none'),
        current_stage.lifecycle_stage

),

months as (

    -- months of the data that start on or before the snapshot date
    select spine_months.month_start
    from spine_months
    cross join snapshot_date
    where spine_months.month_start <= snapshot_date.as_of_date

),

final as (

    select
        months.month_start as month,  -- noqa: RF04
        stage_pairs.from_stage,
        stage_pairs.to_stage,
        cast(coalesce(moves.customers, 0) as {{ dbt.type_bigint() }}) as customers
    from months
    cross join stage_pairs
    left join moves
        on
            months.month_start = moves.month_start
            and stage_pairs.from_stage = moves.from_stage
            and stage_pairs.to_stage = moves.to_stage

)

select * from final
