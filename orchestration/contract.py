"""The landing contract as code: feeds, keys, column types, row rules and source systems.

The one declaration the ingest, the sample generator, the dbt sources and the raw GX suites
follow. The minimum columns come from docs/specs/landing-contract.md; the types are ours: ids
are text, money DECIMAL(18,2), timestamps naive UTC (an offset is converted, none means UTC)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MONEY = "DECIMAL(18,2)"

# The `status`-like domains, for the ingest's row rules, the GX suites and the generator.
ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "cancelled", "returned")
PAYMENT_STATUSES = ("success", "failed")
EVENT_TYPES = (
    *("page_view", "impression", "click", "add_to_cart", "remove_from_cart", "begin_checkout"),
    *("purchase", "search", "share", "like", "comment"),
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

# Row rules, declared as data: a row breaking one goes to raw_quarantine.<feed> with the rule's
# reason. A rule judges only a value that is present and parsed (the others have their reason).
# "In the future" is after the load time plus FUTURE_TOLERANCE (clock skew, time zones); a time
# before OLDEST_VALID is a default such as 1970-01-01 leaking from an export.
FUTURE_TOLERANCE = timedelta(days=1)
OLDEST_VALID = date(2000, 1, 1)


@dataclass(frozen=True)
class InSet:
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Between:
    """`min_value <= column <= max_value` (either optional), where `when` = (column, value)."""

    column: str
    min_value: float | None = None
    max_value: float | None = None
    when: tuple[str, str] | None = None


@dataclass(frozen=True)
class NotBefore:
    later: str
    earlier: str


@dataclass(frozen=True)
class InPast:
    column: str


@dataclass(frozen=True)
class References:
    """`column` is a key of the `parent` feed as loaded so far (raw.<parent>)."""

    column: str
    parent: str
    parent_column: str


Rule = InSet | Between | NotBefore | InPast | References


def _not_negative(*columns: str) -> tuple[Rule, ...]:
    return tuple(Between(c, min_value=0) for c in columns)


@dataclass(frozen=True)
class Feed:
    """One landing feed: its key, its minimum columns with warehouse types, and its source."""

    name: str
    source: str  # the exporting system: shop, tracking, marketing, feedback
    key: tuple[str, ...]
    columns: dict[str, str]
    required: tuple[str, ...] = field(default=())  # non-nullable columns besides the key
    optional: tuple[str, ...] = field(default=())  # a file may lack these: read as NULL
    updated_column: str | None = None  # recency column for at-least-once dedupe
    rules: tuple[Rule, ...] = field(default=())  # row rules beyond type, key and required

    @property
    def parents(self) -> tuple[str, ...]:
        """Feeds whose raw table this feed's References rules read (load those first)."""
        return tuple(dict.fromkeys(r.parent for r in self.rules if isinstance(r, References)))


# One feed a paragraph: `<source> <feed>:` and its columns, `name TYPE [KEY | NOT NULL |
# OPTIONAL]`. A file must have every column but the OPTIONAL ones.
FEED_COLUMNS = """
shop customers: customer_id VARCHAR KEY, signup_ts TIMESTAMP NOT NULL, signup_channel VARCHAR,
    referrer_customer_id VARCHAR, birth_year INTEGER, gender VARCHAR, region VARCHAR,
    city VARCHAR, updated_ts TIMESTAMP
shop products: product_id VARCHAR KEY, product_name VARCHAR, category VARCHAR NOT NULL,
    subcategory VARCHAR, brand VARCHAR, list_price MONEY, updated_ts TIMESTAMP,
    launch_date DATE OPTIONAL
shop orders: order_id VARCHAR KEY, customer_id VARCHAR NOT NULL, order_ts TIMESTAMP NOT NULL,
    platform VARCHAR, status VARCHAR NOT NULL, coupon_code VARCHAR, discount_amount MONEY,
    shipping_fee MONEY, promised_delivery_date DATE, shipped_ts TIMESTAMP,
    delivered_ts TIMESTAMP, cancelled_ts TIMESTAMP, updated_ts TIMESTAMP
shop order_items: order_id VARCHAR KEY, line_number INTEGER KEY, product_id VARCHAR NOT NULL,
    quantity INTEGER NOT NULL, unit_price MONEY NOT NULL
shop payments: payment_id VARCHAR KEY, order_id VARCHAR NOT NULL, attempt_ts TIMESTAMP NOT NULL,
    method VARCHAR, amount MONEY NOT NULL, status VARCHAR NOT NULL
shop refunds: refund_id VARCHAR KEY, order_id VARCHAR NOT NULL, refund_ts TIMESTAMP NOT NULL,
    amount MONEY NOT NULL, reason VARCHAR, is_return BOOLEAN
tracking events: event_id VARCHAR KEY, event_ts TIMESTAMP NOT NULL, visitor_id VARCHAR NOT NULL,
    customer_id VARCHAR, event_type VARCHAR NOT NULL, page_type VARCHAR, product_id VARCHAR,
    order_id VARCHAR, placement VARCHAR, device VARCHAR, utm_source VARCHAR, utm_medium VARCHAR,
    utm_campaign VARCHAR, referrer VARCHAR, search_query VARCHAR OPTIONAL
tracking experiment_assignments: experiment_id VARCHAR KEY, visitor_id VARCHAR KEY,
    variant VARCHAR NOT NULL, assigned_ts TIMESTAMP NOT NULL
marketing marketing_spend: spend_date DATE KEY, channel VARCHAR KEY, campaign_id VARCHAR KEY,
    impressions BIGINT, clicks BIGINT, spend MONEY NOT NULL
marketing campaigns: campaign_id VARCHAR KEY, campaign_name VARCHAR, campaign_type VARCHAR,
    channel VARCHAR, start_date DATE NOT NULL, end_date DATE NOT NULL, budget MONEY
feedback reviews: review_id VARCHAR KEY, order_id VARCHAR NOT NULL, product_id VARCHAR,
    customer_id VARCHAR, rating INTEGER NOT NULL, review_text VARCHAR, review_ts TIMESTAMP NOT NULL
feedback surveys: response_id VARCHAR KEY, customer_id VARCHAR, survey_type VARCHAR NOT NULL,
    score INTEGER NOT NULL, response_ts TIMESTAMP NOT NULL, comment VARCHAR
feedback tickets: ticket_id VARCHAR KEY, customer_id VARCHAR, order_id VARCHAR, category VARCHAR,
    is_complaint BOOLEAN, opened_ts TIMESTAMP NOT NULL, first_response_ts TIMESTAMP,
    resolved_ts TIMESTAMP, channel VARCHAR
"""
ORDER_REFERENCE = References("order_id", "orders", "order_id")
# Beyond these, every TIMESTAMP column is InPast.
RULES: dict[str, tuple[Rule, ...]] = {
    "products": _not_negative("list_price"),
    "orders": (InSet("status", ORDER_STATUSES), *_not_negative("discount_amount", "shipping_fee")),
    "order_items": (Between("quantity", 1), *_not_negative("unit_price"), ORDER_REFERENCE),
    "payments": (InSet("status", PAYMENT_STATUSES), *_not_negative("amount"), ORDER_REFERENCE),
    "refunds": (*_not_negative("amount"), ORDER_REFERENCE),
    "events": (
        InSet("event_type", EVENT_TYPES),
        InSet("page_type", PAGE_TYPES),
        InSet("device", DEVICES),
    ),
    "marketing_spend": (*_not_negative("spend", "impressions", "clicks"), InPast("spend_date")),
    "campaigns": (*_not_negative("budget"), NotBefore("end_date", "start_date")),
    "reviews": (Between("rating", 1, 5), ORDER_REFERENCE),
    "surveys": (
        InSet("survey_type", SURVEY_TYPES),
        Between("score", 0, 10, when=("survey_type", "nps")),
        Between("score", 1, 5, when=("survey_type", "csat")),
    ),
}


def _feed(paragraph: str) -> Feed:
    """A Feed from its FEED_COLUMNS paragraph and RULES."""
    head, columns = paragraph.split(":", 1)
    source, name = head.split()
    specs = [item.split() for item in columns.split(",")]
    types = {column: MONEY if t == "MONEY" else t for column, t, *_ in specs}
    key = tuple(column for column, _, *flags in specs if flags == ["KEY"])
    required = tuple(column for column, _, *flags in specs if flags == ["NOT", "NULL"])
    optional = tuple(column for column, _, *flags in specs if flags == ["OPTIONAL"])
    past = (InPast(c) for c, t in types.items() if t == "TIMESTAMP")
    updated = "updated_ts" if "updated_ts" in types else None
    rules = (*RULES.get(name, ()), *past)
    return Feed(name, source, key, types, required, optional, updated, rules)


FEEDS = {f.name: f for f in map(_feed, re.split(r"\n(?=\S)", FEED_COLUMNS.strip()))}


def raw_table_ddl(feed: Feed) -> str:
    """CREATE TABLE statement for a feed's raw table: contract columns plus lineage."""
    cols = {**feed.columns, **LINEAGE_COLUMNS}
    body = ", ".join(f"{name} {sql_type}" for name, sql_type in cols.items())
    return f"CREATE TABLE IF NOT EXISTS raw.{feed.name} ({body})"


def create_empty_raw_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every raw table empty: for dbt development and feeds a shop does not deliver."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for feed in FEEDS.values():
        conn.execute(raw_table_ddl(feed))
