select business_date, gmv, paid_orders, orders_placed, paid_revenue
from marts.daily_sales
order by business_date
