-- Refunds by reason (kpi-catalog section 8 refund_reasons), a dense grid: every month of
-- int_date_spine x every refund reason seen (NULL reason -> 'unspecified'). A refund counts in
-- the month of its business date (refund_date, as daily_sales.refunds), whatever the order's
-- status; refunds dated outside the spine do not appear. A refund is a return when is_return is
-- true (NULL counts as not a return, as in int_order_facts).

with

spine as (

    select distinct month_start from {{ ref('int_date_spine') }}

),

refunds as (

    select
        *,
        coalesce(reason, 'unspecified') as refund_reason,
        cast({{ dbt.date_trunc('month', 'refund_date') }} as date) as month_start
    from {{ ref('stg_shop__refunds') }}

),

reasons as (

    select distinct refund_reason from refunds

),

monthly as (

    select
        month_start,
        refund_reason,
        count(*) as refunds,
        sum(amount) as refunded_amount,
        sum(case when coalesce(is_return, false) then 1 else 0 end) as returned_refunds
    from refunds
    group by month_start, refund_reason

),

grid as (

    select
        spine.month_start,
        reasons.refund_reason,
        coalesce(monthly.refunds, 0) as refunds,
        coalesce(monthly.refunded_amount, 0) as refunded_amount,
        coalesce(monthly.returned_refunds, 0) as returned_refunds
    from spine
    cross join reasons
    left join monthly
        on
            spine.month_start = monthly.month_start
            and reasons.refund_reason = monthly.refund_reason

),

with_month_totals as (

    select
        *,
        sum(refunded_amount) over (partition by month_start) as month_refunded_amount
    from grid

),

final as (

    select
        month_start as month,  -- noqa: RF04
        refund_reason as reason,
        cast(refunds as {{ dbt.type_bigint() }}) as refunds,
        cast(refunded_amount as {{ type_money() }}) as refunded_amount,
        {{ safe_divide('refunded_amount', 'month_refunded_amount') }} as amount_share,
        {{ safe_divide('returned_refunds', 'refunds') }} as return_share,
        cast(returned_refunds as {{ dbt.type_bigint() }}) as returned_refunds
    from with_month_totals

)

select * from final
