select * from marts.purchase_cohorts
