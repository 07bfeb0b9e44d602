"""A hand-made serving.duckdb for the report, shaped like a BYOD publish: three days in EUR,
no `events` feed (so no traffic and no funnel), big money, a money and a rate anomaly, and the
publishing run's checks with one WARN failure. With `ops=False`: an older file, no ops schema."""

from __future__ import annotations

from pathlib import Path

import duckdb

MARTS = """
CREATE SCHEMA marts;
CREATE TABLE marts._publish_log AS SELECT * FROM (VALUES
    (1, TIMESTAMP '2025-03-03 06:00', 'run-1'), (2, TIMESTAMP '2025-03-04 06:00', 'run-2'))
    t(version, published_at, run_id);
CREATE TABLE marts.daily_sales AS SELECT * FROM (VALUES
    (DATE '2025-03-01', 1234567.0::DECIMAL(18, 2), 2, 97.3::DECIMAL(18, 2)),
    (DATE '2025-03-02', 125.0, 0, 0.0), (DATE '2025-03-03', 96.0, 1, 89.0))
    t(business_date, gmv, paid_orders, paid_revenue);
CREATE TABLE marts.daily_traffic
    (business_date DATE, sessions BIGINT, session_conversion_rate DOUBLE);
CREATE TABLE marts.daily_funnel (business_date DATE, channel VARCHAR, step VARCHAR,
    step_order INTEGER, sessions_reached BIGINT);
CREATE TABLE marts.purchase_cohorts AS SELECT DATE '2025-03-01' AS cohort_month,
    0 AS months_since_first, 2 AS cohort_size, 1.0 AS active_share;
CREATE TABLE marts.segment_summary AS SELECT * FROM (VALUES
    (DATE '2025-03-03', 'member_tier', 'regular', 2, 1.0))
    t(as_of_date, dimension, segment, customers, revenue_share);
CREATE TABLE marts.lifecycle_flows AS SELECT * FROM (VALUES
    (DATE '2025-03-01', 'new', 2), (DATE '2025-03-01', 'prospect', 1))
    t(month, to_stage, customers);
CREATE TABLE marts.monthly_customers AS SELECT DATE '2025-03-01' AS month, 2 AS buyers,
    1 AS repeat_buyers, 0.5 AS repurchase_rate;
CREATE TABLE marts.daily_satisfaction AS SELECT DATE '2025-03-03' AS business_date,
    3 AS review_count, 11 / 3 AS avg_rating;
CREATE TABLE marts.kpi_anomalies AS SELECT * FROM (VALUES
    (DATE '2025-03-01', 'gmv', 37060.5, 1234.0, 100.0, 358.3, true),
    (DATE '2025-03-02', 'payment_success_rate', 0.1182, 0.9, 0.05, -15.6, true))
    t(business_date, kpi, value, baseline_mean, baseline_std, z_score, is_anomaly);
CREATE TABLE marts.product_sales_alerts AS SELECT * FROM (VALUES
    (DATE '2025-03-02', 'sku7', 1::BIGINT, 14.5, 2.0, -6.75, true))
    t(business_date, product_id, units_sold, baseline_mean, baseline_std, z_score, is_alert);
"""

OPS = """
CREATE SCHEMA ops;
CREATE TABLE ops.deployment AS SELECT 'EUR' AS currency, 'Europe/Berlin' AS business_timezone;
CREATE TABLE ops.feed_freshness AS SELECT * FROM (VALUES ('orders', true), ('events', false))
    t(feed, delivered);
CREATE TABLE ops.publish_log AS SELECT * FROM marts._publish_log;
CREATE TABLE ops.check_results AS SELECT * FROM (VALUES
    ('run-1', 'raw/orders', 'row_count', false, 'ERROR'),
    ('run-2', 'raw/orders', 'row_count', true, 'ERROR'),
    ('run-2', 'raw/orders', 'freshness', false, 'WARN'),
    ('run-2', 'marts/daily_sales', 'gmv_not_negative', true, 'ERROR'))
    t(run_id, asset, check_name, passed, severity);
"""


def build_serving(folder: Path, ops: bool = True) -> Path:
    """Write `folder`/serving.duckdb (see the module docstring) and return its path."""
    database = folder / "serving.duckdb"
    with duckdb.connect(str(database)) as conn:
        conn.execute(MARTS + (OPS if ops else ""))
    return database
