select * from marts.platform_daily
