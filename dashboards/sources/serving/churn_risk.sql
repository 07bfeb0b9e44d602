-- Customers per risk band at the newest snapshot (the mart has a row per customer), with the
-- model's AUC and the table comment, which says why the mart is empty when it is. The date as
-- text: an empty mart reads as one row of NULLs (but the comment), whose types Evidence guesses.
with t as (
    select
        strftime(as_of_date, '%Y-%m-%d') as as_of,
        risk_band,
        count(*) as customers,
        avg(churn_probability) as mean_probability,
        any_value(model_auc) as model_auc,
        sum(monetary) as monetary
    from marts.churn_risk
    where as_of_date = (select max(as_of_date) from marts.churn_risk)
    group by as_of, risk_band
),

bands as (
    select * from t
    union all
    select t.* from (select 1) as one left join t on false where not exists (select 1 from t)
)

select
    bands.*,
    (
        select comment from duckdb_tables()
        where schema_name = 'marts' and table_name = 'churn_risk'
    ) as table_comment
from bands
