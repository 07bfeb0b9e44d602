"""The landing contract as code: feeds, keys, column types and source systems.

Single source of truth for the ingest assets, the sample generator, the dbt sources and the
GX suites. The minimum columns come from the landing contract (../shared/landing-contract.md);
the types are ours: ids are strings (shops export them as text), money is DECIMAL(18,2),
timestamps are naive UTC TIMESTAMPs after ingest (offsets are converted, naive means UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MONEY = "DECIMAL(18,2)"

# Values for the `status`-like domains, used by ingest row rules, GX suites and the generator.
ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "cancelled", "returned")
PAYMENT_STATUSES = ("success", "failed")
EVENT_TYPES = (
    "page_view",
    "impression",
    "click",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
    "search",
    "share",
    "like",
    "comment",
)
PAGE_TYPES = ("home", "category", "search", "product", "cart", "checkout", "other")
DEVICES = ("mobile", "desktop", "tablet", "app")
SURVEY_TYPES = ("nps", "csat")

# Lineage columns that ingest adds to every raw table.
LINEAGE_COLUMNS: dict[str, str] = {
    "_source_file": "VARCHAR",  # path of the landing file, relative to the landing root
    "_source_row": "BIGINT",  # 1-based data row within the file (header not counted)
    "_partition_dt": "DATE",  # the dt=YYYY-MM-DD delivery partition
    "_load_id": "VARCHAR",  # id of the load (Dagster run id, or a uuid outside Dagster)
    "_loaded_at": "TIMESTAMP",  # UTC time of the load
}


@dataclass(frozen=True)
class Feed:
    """One landing feed: its key, its minimum columns with warehouse types, and its source."""

    name: str
    source: str  # the exporting system: shop, tracking, marketing, feedback
    key: tuple[str, ...]
    columns: dict[str, str]
    required: tuple[str, ...] = field(default=())  # non-nullable columns besides the key
    updated_column: str | None = None  # recency column for at-least-once dedupe

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        return tuple(c for c, t in self.columns.items() if t == "TIMESTAMP")


FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed(
            "customers",
            "shop",
            ("customer_id",),
            {
                "customer_id": "VARCHAR",
                "signup_ts": "TIMESTAMP",
                "signup_channel": "VARCHAR",
                "referrer_customer_id": "VARCHAR",
                "birth_year": "INTEGER",
                "gender": "VARCHAR",
                "region": "VARCHAR",
                "city": "VARCHAR",
                "updated_ts": "TIMESTAMP",
            },
            required=("signup_ts",),
            updated_column="updated_ts",
        ),
        Feed(
            "products",
            "shop",
            ("product_id",),
            {
                "product_id": "VARCHAR",
                "product_name": "VARCHAR",
                "category": "VARCHAR",
                "subcategory": "VARCHAR",
                "brand": "VARCHAR",
                "list_price": MONEY,
                "updated_ts": "TIMESTAMP",
            },
            required=("category",),
            updated_column="updated_ts",
        ),
        Feed(
            "orders",
            "shop",
            ("order_id",),
            {
                "order_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "order_ts": "TIMESTAMP",
                "platform": "VARCHAR",
                "status": "VARCHAR",
                "coupon_code": "VARCHAR",
                "discount_amount": MONEY,
                "shipping_fee": MONEY,
                "promised_delivery_date": "DATE",
                "shipped_ts": "TIMESTAMP",
                "delivered_ts": "TIMESTAMP",
                "cancelled_ts": "TIMESTAMP",
                "updated_ts": "TIMESTAMP",
            },
            required=("customer_id", "order_ts", "status"),
            updated_column="updated_ts",
        ),
        Feed(
            "order_items",
            "shop",
            ("order_id", "line_number"),
            {
                "order_id": "VARCHAR",
                "line_number": "INTEGER",
                "product_id": "VARCHAR",
                "quantity": "INTEGER",
                "unit_price": MONEY,
            },
            required=("product_id", "quantity", "unit_price"),
        ),
        Feed(
            "payments",
            "shop",
            ("payment_id",),
            {
                "payment_id": "VARCHAR",
                "order_id": "VARCHAR",
                "attempt_ts": "TIMESTAMP",
                "method": "VARCHAR",
                "amount": MONEY,
                "status": "VARCHAR",
            },
            required=("order_id", "attempt_ts", "amount", "status"),
        ),
        Feed(
            "refunds",
            "shop",
            ("refund_id",),
            {
                "refund_id": "VARCHAR",
                "order_id": "VARCHAR",
                "refund_ts": "TIMESTAMP",
                "amount": MONEY,
                "reason": "VARCHAR",
                "is_return": "BOOLEAN",
            },
            required=("order_id", "refund_ts", "amount"),
        ),
        Feed(
            "events",
            "tracking",
            ("event_id",),
            {
                "event_id": "VARCHAR",
                "event_ts": "TIMESTAMP",
                "visitor_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "event_type": "VARCHAR",
                "page_type": "VARCHAR",
                "product_id": "VARCHAR",
                "order_id": "VARCHAR",
                "placement": "VARCHAR",
                "device": "VARCHAR",
                "utm_source": "VARCHAR",
                "utm_medium": "VARCHAR",
                "utm_campaign": "VARCHAR",
                "referrer": "VARCHAR",
            },
            required=("event_ts", "visitor_id", "event_type"),
        ),
        Feed(
            "experiment_assignments",
            "tracking",
            ("experiment_id", "visitor_id"),
            {
                "experiment_id": "VARCHAR",
                "visitor_id": "VARCHAR",
                "variant": "VARCHAR",
                "assigned_ts": "TIMESTAMP",
            },
            required=("variant", "assigned_ts"),
        ),
        Feed(
            "marketing_spend",
            "marketing",
            ("spend_date", "channel", "campaign_id"),
            {
                "spend_date": "DATE",
                "channel": "VARCHAR",
                "campaign_id": "VARCHAR",
                "impressions": "BIGINT",
                "clicks": "BIGINT",
                "spend": MONEY,
            },
            required=("spend",),
        ),
        Feed(
            "campaigns",
            "marketing",
            ("campaign_id",),
            {
                "campaign_id": "VARCHAR",
                "campaign_name": "VARCHAR",
                "campaign_type": "VARCHAR",
                "channel": "VARCHAR",
                "start_date": "DATE",
                "end_date": "DATE",
                "budget": MONEY,
            },
            required=("start_date", "end_date"),
        ),
        Feed(
            "reviews",
            "feedback",
            ("review_id",),
            {
                "review_id": "VARCHAR",
                "order_id": "VARCHAR",
                "product_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "rating": "INTEGER",
                "review_text": "VARCHAR",
                "review_ts": "TIMESTAMP",
            },
            required=("order_id", "rating", "review_ts"),
        ),
        Feed(
            "surveys",
            "feedback",
            ("response_id",),
            {
                "response_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "survey_type": "VARCHAR",
                "score": "INTEGER",
                "response_ts": "TIMESTAMP",
                "comment": "VARCHAR",
            },
            required=("survey_type", "score", "response_ts"),
        ),
        Feed(
            "tickets",
            "feedback",
            ("ticket_id",),
            {
                "ticket_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "order_id": "VARCHAR",
                "category": "VARCHAR",
                "is_complaint": "BOOLEAN",
                "opened_ts": "TIMESTAMP",
                "first_response_ts": "TIMESTAMP",
                "resolved_ts": "TIMESTAMP",
                "channel": "VARCHAR",
            },
            required=("opened_ts",),
        ),
    )
}


def raw_table_ddl(feed: Feed, schema: str = "raw") -> str:
    """CREATE TABLE statement for a feed's raw table: contract columns plus lineage."""
    cols = {**feed.columns, **LINEAGE_COLUMNS}
    body = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in cols.items())
    return f"CREATE TABLE IF NOT EXISTS {schema}.{feed.name} (\n    {body}\n)"


def create_empty_raw_schema(conn: duckdb.DuckDBPyConnection, schema: str = "raw") -> None:
    """Create every raw table empty: for dbt development and feeds a shop does not deliver."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for feed in FEEDS.values():
        conn.execute(raw_table_ddl(feed, schema))
