select * from marts.daily_payments
