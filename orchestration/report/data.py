"""Read what the report shows from a published serving.duckdb, read-only.

Only mart-contract columns are used (docs/specs/mart-contract.md). Money arrives as float
(DuckDB's pandas conversion of DECIMAL): the charts are JSON and need no cents-exact sums."""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

# The queries, one per frame of ReportData. `channel = 'all'` is the funnel's total row.
QUERIES = {
    "sales": """
        SELECT business_date, gmv, paid_orders, paid_revenue
        FROM marts.daily_sales ORDER BY business_date""",
    "traffic": """
        SELECT business_date, sessions, session_conversion_rate
        FROM marts.daily_traffic ORDER BY business_date""",
    "funnel": """
        SELECT business_date, step, step_order, sessions_reached
        FROM marts.daily_funnel WHERE channel = 'all' ORDER BY business_date, step_order""",
    "cohorts": """
        SELECT cohort_month, months_since_first, cohort_size, active_share
        FROM marts.purchase_cohorts ORDER BY cohort_month, months_since_first""",
    "segments": """
        SELECT as_of_date, dimension, segment, customers, revenue_share
        FROM marts.segment_summary
        WHERE as_of_date = (SELECT max(as_of_date) FROM marts.segment_summary)
        ORDER BY dimension, segment""",
    "flows": """
        SELECT month, to_stage AS stage, sum(customers) AS customers
        FROM marts.lifecycle_flows GROUP BY ALL ORDER BY month, stage""",
    "monthly": """
        SELECT month, buyers, repeat_buyers, repurchase_rate
        FROM marts.monthly_customers ORDER BY month""",
    "satisfaction": """
        SELECT business_date, review_count, avg_rating
        FROM marts.daily_satisfaction ORDER BY business_date""",
    "anomalies": """
        SELECT business_date, kpi, value, baseline_mean, baseline_std, z_score
        FROM marts.kpi_anomalies WHERE is_anomaly ORDER BY business_date DESC, kpi""",
    "product_alerts": """
        SELECT business_date, product_id, units_sold, baseline_mean, z_score
        FROM marts.product_sales_alerts WHERE is_alert ORDER BY business_date DESC, product_id""",
}

# From `ops` (older files have none): currency, feeds not delivered, the publishing run's checks.
OPS = """
    SELECT (SELECT currency FROM ops.deployment),
           (SELECT coalesce(list(feed), []) FROM ops.feed_freshness WHERE NOT delivered),
           count(*), coalesce(list(concat(asset, ' ', check_name, ' (', severity, ')'))
                              FILTER (NOT passed), [])
    FROM ops.check_results
    WHERE run_id = (SELECT run_id FROM ops.publish_log ORDER BY version DESC LIMIT 1)"""


@dataclass(frozen=True)
class ReportData:
    """The frames the report is drawn from, and which publish they came from."""

    version: int | None
    published_at: datetime | None
    run_id: str | None
    sales: pd.DataFrame
    traffic: pd.DataFrame
    funnel: pd.DataFrame
    cohorts: pd.DataFrame
    segments: pd.DataFrame
    flows: pd.DataFrame
    monthly: pd.DataFrame
    satisfaction: pd.DataFrame
    anomalies: pd.DataFrame
    product_alerts: pd.DataFrame
    currency: str | None = None  # these three: None without an `ops` schema
    undelivered: list[str] | None = None
    checks: tuple[int, list[str]] | None = None

    @property
    def last_date(self) -> date | None:
        """The newest business date with sales: the report's "today"."""
        return None if self.sales.empty else pd.Timestamp(self.sales["business_date"].max()).date()


def load(database: Path) -> ReportData:
    """All report frames from `database`, opened read-only in one connection (one publish)."""
    with duckdb.connect(str(database), read_only=True) as conn:
        newest = conn.execute(
            "SELECT version, published_at, run_id FROM marts._publish_log "
            "ORDER BY version DESC NULLS LAST LIMIT 1"
        ).fetchone()
        version, published_at, run_id = newest or (None, None, None)
        frames = {name: conn.execute(sql).df() for name, sql in QUERIES.items()}
        if conn.execute("SELECT 1 FROM duckdb_tables() WHERE schema_name = 'ops'").fetchone():
            currency, undelivered, total, failed = conn.execute(OPS).fetchone()
            frames |= {"currency": currency, "undelivered": undelivered, "checks": (total, failed)}
    return ReportData(version=version, published_at=published_at, run_id=run_id, **frames)
