select * from marts.daily_funnel
