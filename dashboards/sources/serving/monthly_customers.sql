select * from marts.monthly_customers
