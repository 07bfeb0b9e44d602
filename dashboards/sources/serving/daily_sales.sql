select * from marts.daily_sales
