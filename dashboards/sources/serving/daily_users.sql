select * from marts.daily_users
