-- AARRR funnel per month (kpi-catalog section 7), one row per month of monthly_customers:
-- acquisition = signups of the month; activation_rate and retention_d30 pool the month's
-- signup_cohorts (activated or day-30-active signups / signups of the month), NULL unless
-- every signup day of the month is old enough; arpu, arppu and referral_rate from
-- monthly_customers.

with

monthly as (

    select * from {{ ref('monthly_customers') }}

),

cohorts as (

    select * from {{ ref('signup_cohorts') }}

),

cohorts_monthly as (

    select
        cast({{ dbt.date_trunc('month', 'signup_date') }} as date) as month_start,
        sum(cohort_size) as signups,
        count(*) as cohort_days,
        count(activated_customers) as activation_observed_days,
        sum(activated_customers) as activated_customers,
        count(retained_d30) as retention_observed_days,
        sum(retained_d30) as retained_d30
    from cohorts
    group by cast({{ dbt.date_trunc('month', 'signup_date') }} as date)

),

pooled as (

    select
        month_start,
        signups,
        case
            when activation_observed_days = cohort_days then activated_customers
        end as activated_customers,
        case when retention_observed_days = cohort_days then retained_d30 end as retained_d30
    from cohorts_monthly

),

final as (

    select
        monthly.month,  -- noqa: RF04
        monthly.new_customers as acquisition,
        {{ safe_divide('pooled.activated_customers', 'pooled.signups') }} as activation_rate,
        {{ safe_divide('pooled.retained_d30', 'pooled.signups') }} as retention_d30,
        monthly.arpu,
        monthly.arppu,
        monthly.referral_rate,
        cast(pooled.activated_customers as {{ dbt.type_bigint() }}) as activated_customers,
        cast(pooled.retained_d30 as {{ dbt.type_bigint() }}) as retained_d30_customers,
        monthly.mau,
        monthly.buyers,
        monthly.paid_revenue,
        monthly.referrals_per_referrer
    from monthly
    left join pooled
        on monthly.month = pooled.month_start  -- noqa: RF04

)

select * from final
