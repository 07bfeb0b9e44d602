select * from marts.kpi_anomalies
