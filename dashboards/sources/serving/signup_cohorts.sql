select * from marts.signup_cohorts
