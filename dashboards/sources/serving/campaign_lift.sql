select * from marts.campaign_lift
