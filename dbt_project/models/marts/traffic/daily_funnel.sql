{{ config(**incremental_config(unique_key=['business_date', 'channel', 'step'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Open conversion funnel (kpi-catalog section 2), one row per business date of int_date_spine,
-- channel and step: a dense grid of every day x (every session channel seen in the data +
-- 'all') x the five steps session -> product_view -> add_to_cart -> begin_checkout -> purchase.
-- A session reaches a step when it has that event, whatever else it did (open funnel); it
-- counts on the session's day. step_conversion = reach(n) / reach(n - 1), NULL for step 1 or a
-- zero base; drop_off = 1 - step_conversion.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

sessions as (

    select * from {{ ref('int_sessions') }}

),

channels as (

    select distinct channel from sessions
    union
    select 'all' as channel

),

steps as (

    select
        'session' as step,
        1 as step_order
    union all
    select
        'product_view' as step,
        2 as step_order
    union all
    select
        'add_to_cart' as step,
        3 as step_order
    union all
    select
        'begin_checkout' as step,
        4 as step_order
    union all
    select
        'purchase' as step,
        5 as step_order

),

grid as (

    select
        spine.business_date,
        channels.channel,
        steps.step,
        steps.step_order
    from spine
    cross join channels
    cross join steps

),

session_steps as (

    select
        business_date,
        channel,
        1 as reached_session,
        case when has_product_view then 1 else 0 end as reached_product_view,
        case when has_add_to_cart then 1 else 0 end as reached_add_to_cart,
        case when has_begin_checkout then 1 else 0 end as reached_begin_checkout,
        case when has_purchase then 1 else 0 end as reached_purchase
    from sessions

),

-- Each session twice: once in its channel and once in the channel 'all'.
session_steps_all as (

    select * from session_steps
    union all
    select
        business_date,
        'all' as channel,
        reached_session,
        reached_product_view,
        reached_add_to_cart,
        reached_begin_checkout,
        reached_purchase
    from session_steps

),

reach_wide as (

    select
        business_date,
        channel,
        sum(reached_session) as session_reach,
        sum(reached_product_view) as product_view_reach,
        sum(reached_add_to_cart) as add_to_cart_reach,
        sum(reached_begin_checkout) as begin_checkout_reach,
        sum(reached_purchase) as purchase_reach
    from session_steps_all
    group by business_date, channel

),

reach_long as (

    select
        business_date,
        channel,
        'session' as step,
        session_reach as sessions_reached
    from reach_wide
    union all
    select
        business_date,
        channel,
        'product_view' as step,
        product_view_reach as sessions_reached
    from reach_wide
    union all
    select
        business_date,
        channel,
        'add_to_cart' as step,
        add_to_cart_reach as sessions_reached
    from reach_wide
    union all
    select
        business_date,
        channel,
        'begin_checkout' as step,
        begin_checkout_reach as sessions_reached
    from reach_wide
    union all
    select
        business_date,
        channel,
        'purchase' as step,
        purchase_reach as sessions_reached
    from reach_wide

),

dense as (

    select
        grid.business_date,
        grid.channel,
        grid.step,
        grid.step_order,
        coalesce(reach_long.sessions_reached, 0) as sessions_reached
    from grid
    left join reach_long
        on
            grid.business_date = reach_long.business_date
            and grid.channel = reach_long.channel
            and grid.step = reach_long.step

),

with_previous as (

    select
        dense.*,
        lag(dense.sessions_reached) over (
            partition by dense.business_date, dense.channel
            order by dense.step_order
        ) as previous_step_reached
    from dense

),

final as (

    select
        business_date,
        channel,
        step,
        cast(step_order as {{ dbt.type_int() }}) as step_order,
        cast(sessions_reached as {{ dbt.type_bigint() }}) as sessions_reached,
        {{ safe_divide('sessions_reached', 'previous_step_reached') }} as step_conversion,
        1 - {{ safe_divide('sessions_reached', 'previous_step_reached') }} as drop_off,
        cast(previous_step_reached as {{ dbt.type_bigint() }}) as previous_step_reached
    from with_previous

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['channel', 'step'], traffic_only=true
) }}
