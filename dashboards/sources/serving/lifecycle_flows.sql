select * from marts.lifecycle_flows
