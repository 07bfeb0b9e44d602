-- Review KPIs per product over all reviews in the data (kpi-catalog section 6): one row per
-- product of the catalog (stg_shop__products) plus any reviewed product missing from it;
-- products without reviews have review_count 0 and NULL ratios.

with

products as (

    select * from {{ ref('stg_shop__products') }}

),

reviews as (

    select * from {{ ref('int_reviews_rated') }}

),

reviews_per_product as (

    select
        product_id,
        max(category) as category,
        count(*) as review_count,
        avg(cast(rating as double)) as avg_rating,
        sum(case when is_positive then 1 else 0 end) as positive_reviews,
        sum(case when is_negative then 1 else 0 end) as negative_reviews,
        min(review_date) as first_review_date,
        max(review_date) as last_review_date
    from reviews
    where product_id is not null
    group by product_id

),

all_products as (

    select
        product_id,
        category
    from products
    union
    select
        product_id,
        category
    from reviews_per_product

),

final as (

    select
        all_products.product_id,
        all_products.category,
        cast(coalesce(reviews_per_product.review_count, 0) as {{ dbt.type_bigint() }})
            as review_count,
        reviews_per_product.avg_rating,
        {{ safe_divide(
            'reviews_per_product.positive_reviews', 'reviews_per_product.review_count'
        ) }} as positive_review_rate,
        {{ safe_divide(
            'reviews_per_product.negative_reviews', 'reviews_per_product.review_count'
        ) }} as negative_review_rate,
        cast(coalesce(reviews_per_product.positive_reviews, 0) as {{ dbt.type_bigint() }})
            as positive_reviews,
        cast(coalesce(reviews_per_product.negative_reviews, 0) as {{ dbt.type_bigint() }})
            as negative_reviews,
        reviews_per_product.first_review_date,
        reviews_per_product.last_review_date
    from all_products
    left join reviews_per_product
        on all_products.product_id = reviews_per_product.product_id

)

select * from final
