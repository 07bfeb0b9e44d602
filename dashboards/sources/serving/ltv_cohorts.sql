select * from marts.ltv_cohorts
