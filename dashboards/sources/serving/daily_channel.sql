select * from marts.daily_channel
