-- Never empty: an empty result leaves no parquet file (and the pages' queries fail), so an
-- empty table reads as one row of NULLs; the pages ignore rows with a NULL grain.
with t as (
    select * from marts.channel_attribution
)
select * from t
union all
select t.* from (select 1) as one left join t on false where not exists (select 1 from t)
