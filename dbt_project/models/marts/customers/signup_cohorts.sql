-- Signup-day cohorts (kpi-catalog sections 4 and 7), one row per business date of
-- int_date_spine: customers who signed up that day, the share active (logged-in event or
-- order) on exactly day 1, 7 and 30 after signup, and the share with a first paid order within
-- var activation_days (7) days of signup (day 0 to day 7). A cohort is not old enough for day
-- N while signup_date + N is after the snapshot date (int_customer_snapshot_date): the ratio
-- and its count are NULL then.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

snapshot_date as (

    select * from {{ ref('int_customer_snapshot_date') }}

),

customers as (

    select * from {{ ref('int_customer_facts') }}

),

activity as (

    select * from {{ ref('int_customer_daily_activity') }}

),

activity_days as (

    select
        customers.customer_id,
        {{ dbt.datediff('customers.signup_date', 'activity.business_date', 'day') }}
            as days_since_signup
    from customers
    inner join activity
        on customers.customer_id = activity.customer_id

),

retention_days as (

    select
        customer_id,
        max(case when days_since_signup = 1 then 1 else 0 end) as is_active_d1,
        max(case when days_since_signup = 7 then 1 else 0 end) as is_active_d7,
        max(case when days_since_signup = 30 then 1 else 0 end) as is_active_d30
    from activity_days
    group by customer_id

),

cohorts as (

    select
        customers.signup_date,
        count(*) as cohort_size,
        sum(coalesce(retention_days.is_active_d1, 0)) as retained_d1,
        sum(coalesce(retention_days.is_active_d7, 0)) as retained_d7,
        sum(coalesce(retention_days.is_active_d30, 0)) as retained_d30,
        sum(case when customers.is_activated then 1 else 0 end) as activated
    from customers
    left join retention_days
        on customers.customer_id = retention_days.customer_id
    group by customers.signup_date

),

daily as (

    select
        spine.business_date as signup_date,
        coalesce(cohorts.cohort_size, 0) as cohort_size,
        case
            when {{ dbt.dateadd('day', 1, 'spine.business_date') }} <= snapshot_date.as_of_date
                then coalesce(cohorts.retained_d1, 0)
        end as retained_d1,
        case
            when {{ dbt.dateadd('day', 7, 'spine.business_date') }} <= snapshot_date.as_of_date
                then coalesce(cohorts.retained_d7, 0)
        end as retained_d7,
        case
            when {{ dbt.dateadd('day', 30, 'spine.business_date') }} <= snapshot_date.as_of_date
                then coalesce(cohorts.retained_d30, 0)
        end as retained_d30,
        case
            when
                {{ dbt.dateadd('day', var('activation_days'), 'spine.business_date') }}
                <= snapshot_date.as_of_date
                then coalesce(cohorts.activated, 0)
        end as activated
    from spine
    cross join snapshot_date
    left join cohorts
        on spine.business_date = cohorts.signup_date

),

final as (

    select
        signup_date,
        cast(cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
        {{ safe_divide('retained_d1', 'cohort_size') }} as retention_d1,
        {{ safe_divide('retained_d7', 'cohort_size') }} as retention_d7,
        {{ safe_divide('retained_d30', 'cohort_size') }} as retention_d30,
        {{ safe_divide('activated', 'cohort_size') }} as activation_rate,
        cast(retained_d1 as {{ dbt.type_bigint() }}) as retained_d1,
        cast(retained_d7 as {{ dbt.type_bigint() }}) as retained_d7,
        cast(retained_d30 as {{ dbt.type_bigint() }}) as retained_d30,
        cast(activated as {{ dbt.type_bigint() }}) as activated_customers
    from daily

)

select * from final
