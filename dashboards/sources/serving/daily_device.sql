select * from marts.daily_device
