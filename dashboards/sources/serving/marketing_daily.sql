select * from marts.marketing_daily
