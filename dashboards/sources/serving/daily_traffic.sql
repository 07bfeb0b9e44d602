select * from marts.daily_traffic
