select * from marts.daily_satisfaction
