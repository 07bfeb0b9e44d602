{{ config(**incremental_config(unique_key=['business_date', 'device'])) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Device mix (kpi-catalog section 1), one row per business date of int_date_spine and device:
-- a dense grid of every day x every device seen in the data (session devices, plus
-- 'unattributed' when some orders have no tracked purchase session), zeros on days without
-- activity. Sessions count on the session's day with the device of its first event; orders and
-- paid revenue count on the order's day with the device of the session holding the order's
-- purchase event (int_order_purchase_sessions).

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

sessions as (

    select * from {{ ref('int_sessions') }}

),

orders as (

    select * from {{ ref('int_order_purchase_sessions') }}

),

devices as (

    select coalesce(device, 'unknown') as device from sessions
    union
    select device from orders

),

grid as (

    select
        spine.business_date,
        devices.device
    from spine
    cross join devices

),

sessions_daily as (

    select
        business_date,
        coalesce(device, 'unknown') as device,
        count(*) as sessions
    from sessions
    group by business_date, coalesce(device, 'unknown')

),

orders_daily as (

    select
        order_date as business_date,
        device,
        count(*) as orders,
        sum(case when is_paid then 1 else 0 end) as paid_orders,
        sum(case when is_paid then order_value else 0 end) as paid_revenue
    from orders
    group by order_date, device

),

final as (

    select
        grid.business_date,
        grid.device,
        cast(coalesce(sessions_daily.sessions, 0) as {{ dbt.type_bigint() }}) as sessions,
        cast(coalesce(orders_daily.paid_revenue, 0) as {{ type_money() }}) as paid_revenue,
        cast(coalesce(orders_daily.orders, 0) as {{ dbt.type_bigint() }}) as orders,
        cast(coalesce(orders_daily.paid_orders, 0) as {{ dbt.type_bigint() }}) as paid_orders
    from grid
    left join sessions_daily
        on
            grid.business_date = sessions_daily.business_date
            and grid.device = sessions_daily.device
    left join orders_daily
        on
            grid.business_date = orders_daily.business_date
            and grid.device = orders_daily.device

)

select * from final
{{- incremental_rows_filter(
    'business_date', grain_columns=['device']
) }}
