select * from marts.product_sales_monthly
