-- A stand-in `ops` schema for developing and testing the dashboards, until the publish step
-- writes the real one. Run it on a COPY of a serving file, never on the published one:
--   cp data/serving/serving.duckdb /tmp/s/serving.duckdb
--   .venv/bin/duckdb /tmp/s/serving.duckdb < dashboards/dev/ops.sql
-- Deterministic, derived from marts._publish_log and marts.daily_sales, with planted facts the
-- tests assert: one failed WARN check in the newest run, quarantined rows on the first 3 days.
CREATE SCHEMA IF NOT EXISTS ops;

CREATE OR REPLACE TABLE ops.deployment AS
SELECT 'CNY' AS currency, 'Asia/Shanghai' AS business_timezone;

CREATE OR REPLACE TABLE ops.publish_log AS
SELECT version, published_at, run_id, row_counts, checks_passed, dagster_version,
       duckdb_version, storage_version
FROM marts._publish_log;

-- Two checks per mart and run (an ERROR and a WARN one); the newest run's WARN check of
-- marts/kpi_anomalies failed.
CREATE OR REPLACE TABLE ops.check_results AS
WITH runs AS (
    SELECT run_id, published_at, version, max(version) OVER () AS newest,
           unnest(json_keys(row_counts)) AS mart
    FROM marts._publish_log
), checks AS (
    SELECT * FROM (VALUES ('gx_suite', 'ERROR'), ('row_count_in_range', 'WARN')) AS t(check_name, severity)
)
SELECT r.run_id,
       r.published_at - INTERVAL 1 MINUTE AS evaluated_at,
       'marts/' || r.mart AS asset,
       c.check_name,
       NOT (r.version = r.newest AND r.mart = 'kpi_anomalies' AND c.severity = 'WARN') AS passed,
       c.severity
FROM runs r CROSS JOIN checks c;

CREATE OR REPLACE TABLE ops.quarantine_daily AS
WITH days AS (
    SELECT business_date AS d, row_number() OVER (ORDER BY business_date) AS n
    FROM marts.daily_sales
    QUALIFY n <= 3
)
SELECT 'orders' AS feed, d AS partition_dt, 'order_ts does not parse' AS reason, CAST(n AS BIGINT) AS rows
FROM days
UNION ALL
SELECT 'events', d, 'event_type not in the contract', CAST(10 * n AS BIGINT)
FROM days WHERE n = 2;

CREATE OR REPLACE TABLE ops.feed_freshness AS
WITH newest AS (
    SELECT max(business_date) AS dt, (SELECT max(published_at) FROM marts._publish_log) AS loaded
    FROM marts.daily_sales
)
SELECT feed, true AS delivered, dt AS newest_partition_dt, loaded AS last_loaded_at,
       0 AS lag_days, 1 AS max_lag_days, true AS fresh
FROM newest CROSS JOIN (VALUES ('customers'), ('products'), ('orders'), ('order_items'),
    ('payments'), ('refunds'), ('events'), ('experiment_assignments'), ('marketing_spend'),
    ('campaigns'), ('reviews'), ('surveys'), ('tickets')) AS f(feed);
