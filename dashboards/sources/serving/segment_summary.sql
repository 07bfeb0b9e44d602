select * from marts.segment_summary
