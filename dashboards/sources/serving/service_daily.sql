select * from marts.service_daily
