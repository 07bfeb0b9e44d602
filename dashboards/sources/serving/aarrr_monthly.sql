select * from marts.aarrr_monthly
