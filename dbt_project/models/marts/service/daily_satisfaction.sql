{{ config(**incremental_config(unique_key='business_date')) }}
-- depends_on: {{ ref('int_batch_dates') }}

-- Satisfaction KPIs per business day (kpi-catalog section 6), one row per business date of
-- int_date_spine; zeros and NULL ratios on days without reviews, tickets or surveys.
-- Reviews count on their review day; review_rate is the delivery-day cohort (orders delivered
-- on the day that have a review, whenever written / orders delivered on the day); complaints
-- are complaint tickets opened on the day (from service_daily) over the day's paid orders (from
-- daily_sales); NPS and CSAT answers count on their response day.

with

spine as (

    select business_date from {{ ref('int_date_spine') }}

),

reviews as (

    select * from {{ ref('int_reviews_rated') }}

),

orders as (

    select * from {{ ref('int_order_facts') }}

),

surveys as (

    select * from {{ ref('stg_feedback__surveys') }}

),

service as (

    select * from {{ ref('service_daily') }}

),

sales as (

    select * from {{ ref('daily_sales') }}

),

reviews_daily as (

    select
        review_date as business_date,
        count(*) as review_count,
        sum(rating) as rating_sum,
        sum(case when is_positive then 1 else 0 end) as positive_reviews,
        sum(case when is_negative then 1 else 0 end) as negative_reviews
    from reviews
    group by review_date

),

reviewed_orders as (

    select distinct order_id
    from reviews
    where order_id is not null

),

deliveries_daily as (

    select
        orders.delivered_date as business_date,
        count(*) as delivered_orders,
        sum(case when reviewed_orders.order_id is not null then 1 else 0 end)
            as reviewed_delivered_orders
    from orders
    left join reviewed_orders
        on orders.order_id = reviewed_orders.order_id
    where orders.is_delivered
    group by orders.delivered_date

),

surveys_daily as (

    select
        response_date as business_date,
        sum(case when survey_type = 'nps' then 1 else 0 end) as nps_responses,
        sum(case when survey_type = 'nps' and score >= 9 then 1 else 0 end) as promoters,
        sum(case when survey_type = 'nps' and score between 7 and 8 then 1 else 0 end)
            as passives,
        sum(case when survey_type = 'nps' and score <= 6 then 1 else 0 end) as detractors,
        sum(case when survey_type = 'csat' then 1 else 0 end) as csat_responses,
        sum(case when survey_type = 'csat' and score >= 4 then 1 else 0 end)
            as satisfied_responses
    from surveys
    group by response_date

),

daily as (

    select
        spine.business_date,
        coalesce(reviews_daily.review_count, 0) as review_count,
        reviews_daily.rating_sum,
        coalesce(reviews_daily.positive_reviews, 0) as positive_reviews,
        coalesce(reviews_daily.negative_reviews, 0) as negative_reviews,
        coalesce(deliveries_daily.delivered_orders, 0) as delivered_orders,
        coalesce(deliveries_daily.reviewed_delivered_orders, 0) as reviewed_delivered_orders,
        coalesce(service.complaints, 0) as complaints,
        coalesce(sales.paid_orders, 0) as paid_orders,
        coalesce(surveys_daily.nps_responses, 0) as nps_responses,
        coalesce(surveys_daily.promoters, 0) as promoters,
        coalesce(surveys_daily.passives, 0) as passives,
        coalesce(surveys_daily.detractors, 0) as detractors,
        coalesce(surveys_daily.csat_responses, 0) as csat_responses,
        coalesce(surveys_daily.satisfied_responses, 0) as satisfied_responses
    from spine
    left join reviews_daily
        on spine.business_date = reviews_daily.business_date
    left join deliveries_daily
        on spine.business_date = deliveries_daily.business_date
    left join service
        on spine.business_date = service.business_date
    left join sales
        on spine.business_date = sales.business_date
    left join surveys_daily
        on spine.business_date = surveys_daily.business_date

),

final as (

    select
        business_date,
        cast(review_count as {{ dbt.type_bigint() }}) as review_count,
        {{ safe_divide('rating_sum', 'review_count') }} as avg_rating,
        {{ safe_divide('positive_reviews', 'review_count') }} as positive_review_rate,
        {{ safe_divide('negative_reviews', 'review_count') }} as negative_review_rate,
        {{ safe_divide('reviewed_delivered_orders', 'delivered_orders') }} as review_rate,
        cast(complaints as {{ dbt.type_bigint() }}) as complaints,
        1000 * {{ safe_divide('complaints', 'paid_orders') }} as complaint_rate_per_1000,
        100 * {{ safe_divide('promoters - detractors', 'nps_responses') }} as nps,
        {{ safe_divide('satisfied_responses', 'csat_responses') }} as csat,
        {{ safe_divide('complaints', 'paid_orders') }} as complaint_rate,
        cast(positive_reviews as {{ dbt.type_bigint() }}) as positive_reviews,
        cast(negative_reviews as {{ dbt.type_bigint() }}) as negative_reviews,
        cast(delivered_orders as {{ dbt.type_bigint() }}) as delivered_orders,
        cast(reviewed_delivered_orders as {{ dbt.type_bigint() }}) as reviewed_delivered_orders,
        cast(paid_orders as {{ dbt.type_bigint() }}) as paid_orders,
        cast(nps_responses as {{ dbt.type_bigint() }}) as nps_responses,
        cast(promoters as {{ dbt.type_bigint() }}) as promoters,
        cast(passives as {{ dbt.type_bigint() }}) as passives,
        cast(detractors as {{ dbt.type_bigint() }}) as detractors,
        cast(csat_responses as {{ dbt.type_bigint() }}) as csat_responses,
        cast(satisfied_responses as {{ dbt.type_bigint() }}) as satisfied_responses
    from daily

)

select * from final
{{- incremental_rows_filter(
    'business_date'
) }}
