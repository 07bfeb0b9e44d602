-- Summed per month and product (the mart is per day and product: too many rows for the
-- browser). Never empty: an empty result leaves no parquet file (and the pages' queries fail),
-- so an empty table reads as one row of NULLs; the pages ignore rows with a NULL grain.
with t as (
    select
        date_trunc('month', business_date)::date as month,
        product_id,
        sum(product_views) as product_views,
        sum(likes) as likes,
        sum(comments) as comments,
        sum(shares) as shares,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases
    from marts.product_engagement
    group by 1, 2
)
select * from t
union all
select t.* from (select 1) as one left join t on false where not exists (select 1 from t)
