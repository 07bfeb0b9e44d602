select * from marts.ab_test_results
