select * from marts.gmv_forecast
