select * from marts.daily_ctr
