-- Reviews with the catalog's rating classes (section 6): positive = rated 4-5, negative =
-- rated 1-2 (3 is neutral), plus the reviewed product's category.

with

reviews as (

    select * from {{ ref('stg_feedback__reviews') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        reviews.review_id,
        reviews.order_id,
        reviews.product_id,
        products.category,
        reviews.customer_id,
        reviews.rating,
        reviews.review_ts,
        reviews.review_date,
        reviews.rating >= 4 as is_positive,
        reviews.rating <= 2 as is_negative
    from reviews
    left join products
        on reviews.product_id = products.product_id

)

select * from final
