-- Customers per member_tier and activity_tier at the newest customer_snapshot (the mart has a
-- row per customer). Never empty: an empty result reads as one row of NULLs.
with t as (
    select
        as_of_date,
        member_tier,
        activity_tier,
        count(*) as customers,
        sum(monetary) as monetary
    from marts.customer_snapshot
    where as_of_date = (select max(as_of_date) from marts.customer_snapshot)
    group by as_of_date, member_tier, activity_tier
)
select * from t
union all
select t.* from (select 1) as one left join t on false where not exists (select 1 from t)
