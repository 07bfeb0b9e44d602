{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}
-- depends_on: {{ ref('int_batch_orders') }}

-- Daily user KPIs (kpi-catalog section 4), one row per business date of int_date_spine.
-- Active = a logged-in event or an order on the day (int_customer_daily_activity); wau / mau
-- count distinct active customers over the 7 / 30 days ending on the day (inclusive), the
-- windows truncated at the start of the data. new_customers is int_customer_signups_daily (the
-- marketing marts' acquisition count) summed over signup channels.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

activity as (

    select * from {{ ref('int_customer_daily_activity') }}

),

signups as (

    select * from {{ ref('int_customer_signups_daily') }}

),

signups_daily as (

    select
        signup_date as business_date,
        sum(new_customers) as new_customers
    from signups
    group by signup_date

),

first_buyers_daily as (

    select
        first_paid_order_date as business_date,
        count(*) as first_time_buyers
    from customers
    where first_paid_order_date is not null
    group by first_paid_order_date

),

activity_gaps as (

    -- each active day of a customer with the customer's previous active day
    select
        customer_id,
        business_date,
        lag(business_date) over (
            partition by customer_id
            order by business_date
        ) as previous_date
    from activity

),

window_deltas as (

    -- A customer is in the n-day window of day D when active on a day in (D - n, D]: the union
    -- of [a, a + n - 1] over their active days a. Each active day adds the part of its range
    -- the previous active day's range does not cover, [max(a, previous + n), a + n - 1]: +1 on
    -- its first day, -1 the day after its last. The ranges of one customer are disjoint, so the
    -- running sum of the deltas is the distinct count: linear in the active days, where a join
    -- of every day to its window would read each active day n times.
    select
        'wau' as window_name,
        greatest(
            business_date,
            coalesce(
                cast({{ dbt.dateadd('day', 7, 'previous_date') }} as date), business_date
            )
        ) as business_date,
        1 as delta
    from activity_gaps
    union all
    select
        'wau' as window_name,
        cast({{ dbt.dateadd('day', 7, 'business_date') }} as date) as business_date,
        -1 as delta
    from activity_gaps
    union all
    select
        'mau' as window_name,
        greatest(
            business_date,
            coalesce(
                cast({{ dbt.dateadd('day', 30, 'previous_date') }} as date), business_date
            )
        ) as business_date,
        1 as delta
    from activity_gaps
    union all
    select
        'mau' as window_name,
        cast({{ dbt.dateadd('day', 30, 'business_date') }} as date) as business_date,
        -1 as delta
    from activity_gaps

),

deltas_daily as (

    -- every spine day gets a row (delta 0), so that the running sums below land on each
    select
        business_date,
        sum(case when window_name = 'wau' then delta else 0 end) as wau_delta,
        sum(case when window_name = 'mau' then delta else 0 end) as mau_delta
    from (
        select * from window_deltas
        union all
        select
            'none' as window_name,
            business_date,
            0 as delta
        from spine
    ) as deltas
    group by business_date

),

running_windows as (

    select
        business_date,
        sum(wau_delta) over (
            order by business_date
            rows between unbounded preceding and current row
        ) as wau,
        sum(mau_delta) over (
            order by business_date
            rows between unbounded preceding and current row
        ) as mau
    from deltas_daily

),

dau_daily as (

    -- int_customer_daily_activity has one row per customer and day
    select
        business_date,
        count(*) as dau
    from activity
    group by business_date

),

active_windows as (

    select
        spine.business_date,
        coalesce(dau_daily.dau, 0) as dau,
        running_windows.wau,
        running_windows.mau
    from spine
    inner join running_windows
        on spine.business_date = running_windows.business_date
    left join dau_daily
        on spine.business_date = dau_daily.business_date

),

final as (

    select
        spine.business_date,
        cast(coalesce(signups_daily.new_customers, 0) as {{ dbt.type_bigint() }}) as new_customers,
        cast(
            coalesce(first_buyers_daily.first_time_buyers, 0) as {{ dbt.type_bigint() }}
        ) as first_time_buyers,
        cast(coalesce(active_windows.dau, 0) as {{ dbt.type_bigint() }}) as dau,
        cast(coalesce(active_windows.wau, 0) as {{ dbt.type_bigint() }}) as wau,
        cast(coalesce(active_windows.mau, 0) as {{ dbt.type_bigint() }}) as mau,
        {{ safe_divide('active_windows.dau', 'active_windows.mau') }} as stickiness
    from spine
    left join signups_daily
        on spine.business_date = signups_daily.business_date
    left join first_buyers_daily
        on spine.business_date = first_buyers_daily.business_date
    left join active_windows
        on spine.business_date = active_windows.business_date

)

select * from final
{#- extra_dates: the first paid order dates (now) of the customers of the touched orders: a
    touched order can move its customer's first paid order to any other order of theirs
    (first_time_buyers); the old date is a touched order's date or still the first one. #}
{{- incremental_rows_filter(
    'business_date',
    window_days=30,
    extra_dates='select first_paid_order_date from ' ~ ref('int_customer_facts')
    ~ ' where customer_id in (select customer_id from ' ~ ref('int_batch_orders') ~ ')'
) }}
