select * from ops.deployment
