select * from marts.fulfillment_daily
