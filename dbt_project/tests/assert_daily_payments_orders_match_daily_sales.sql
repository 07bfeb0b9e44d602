-- daily_payments counts orders exactly like daily_sales (same order-day cohort, same paid flag):
-- fails with the days where orders_placed or paid_orders differ.

select
    daily_payments.business_date,
    daily_payments.orders_placed,
    daily_sales.orders_placed as sales_orders_placed,
    daily_payments.paid_orders,
    daily_sales.paid_orders as sales_paid_orders
from {{ ref('daily_payments') }} as daily_payments
full outer join {{ ref('daily_sales') }} as daily_sales
    on daily_payments.business_date = daily_sales.business_date
where
    daily_payments.business_date is null
    or daily_sales.business_date is null
    or daily_payments.orders_placed != daily_sales.orders_placed
    or daily_payments.paid_orders != daily_sales.paid_orders
