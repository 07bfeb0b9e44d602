select * from ops.feed_freshness
