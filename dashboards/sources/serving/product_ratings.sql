select * from marts.product_ratings
