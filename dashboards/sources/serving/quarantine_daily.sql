select * from ops.quarantine_daily
