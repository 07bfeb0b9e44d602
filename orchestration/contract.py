"""The landing contract as code: feeds, keys, column types, row rules and source systems.

The one declaration the ingest, the sample generator, the dbt sources and the raw GX suites
follow (tests/test_contract_agreement.py holds the last two to it). The minimum columns come
from docs/specs/landing-contract.md; the types are ours: ids are text, money DECIMAL(18,2),
timestamps naive UTC after ingest (an offset is converted, none means UTC).
"""

from __future__ import annotations

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
    """`column` takes one of `values`."""

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
    """`later >= earlier` for two columns of the same row."""

    later: str
    earlier: str


@dataclass(frozen=True)
class InPast:
    """Not after the load time + FUTURE_TOLERANCE, not before OLDEST_VALID."""

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
    updated_column: str | None = None  # recency column for at-least-once dedupe
    rules: tuple[Rule, ...] = field(default=())  # row rules beyond type, key and required

    @property
    def parents(self) -> tuple[str, ...]:
        """Feeds whose raw table this feed's References rules read (load those first)."""
        return tuple(dict.fromkeys(r.parent for r in self.rules if isinstance(r, References)))


def _feed(name: str, source: str, key: str, columns: str, required: str, *rules: Rule) -> Feed:
    """A Feed from text: `key` and `required` name columns, `columns` is `"id VARCHAR, price
    MONEY, …"`. Derived: every TIMESTAMP is InPast, `updated_ts` (if any) orders versions."""
    pairs = (item.split() for item in columns.split(","))
    types = {column: MONEY if t == "MONEY" else t for column, t in pairs}
    past = (InPast(c) for c, t in types.items() if t == "TIMESTAMP")
    updated = "updated_ts" if "updated_ts" in types else None
    return Feed(
        name, source, tuple(key.split()), types, tuple(required.split()), updated, (*rules, *past)
    )


ORDER_REFERENCE = References("order_id", "orders", "order_id")

FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        _feed(
            "customers",
            "shop",
            "customer_id",
            "customer_id VARCHAR, signup_ts TIMESTAMP, signup_channel VARCHAR, "
            "referrer_customer_id VARCHAR, birth_year INTEGER, gender VARCHAR, "
            "region VARCHAR, city VARCHAR, updated_ts TIMESTAMP",
            "signup_ts",
        ),
        _feed(
            "products",
            "shop",
            "product_id",
            "product_id VARCHAR, product_name VARCHAR, category VARCHAR, "
            "subcategory VARCHAR, brand VARCHAR, list_price MONEY, updated_ts TIMESTAMP",
            "category",
            *_not_negative("list_price"),
        ),
        _feed(
            "orders",
            "shop",
            "order_id",
            "order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, platform VARCHAR, "
            "status VARCHAR, coupon_code VARCHAR, discount_amount MONEY, shipping_fee MONEY, "
            "promised_delivery_date DATE, shipped_ts TIMESTAMP, delivered_ts TIMESTAMP, "
            "cancelled_ts TIMESTAMP, updated_ts TIMESTAMP",
            "customer_id order_ts status",
            InSet("status", ORDER_STATUSES),
            *_not_negative("discount_amount", "shipping_fee"),
        ),
        _feed(
            "order_items",
            "shop",
            "order_id line_number",
            "order_id VARCHAR, line_number INTEGER, product_id VARCHAR, quantity INTEGER, "
            "unit_price MONEY",
            "product_id quantity unit_price",
            Between("quantity", min_value=1),
            *_not_negative("unit_price"),
            ORDER_REFERENCE,
        ),
        _feed(
            "payments",
            "shop",
            "payment_id",
            "payment_id VARCHAR, order_id VARCHAR, attempt_ts TIMESTAMP, method VARCHAR, "
            "amount MONEY, status VARCHAR",
            "order_id attempt_ts amount status",
            InSet("status", PAYMENT_STATUSES),
            *_not_negative("amount"),
            ORDER_REFERENCE,
        ),
        _feed(
            "refunds",
            "shop",
            "refund_id",
            "refund_id VARCHAR, order_id VARCHAR, refund_ts TIMESTAMP, amount MONEY, "
            "reason VARCHAR, is_return BOOLEAN",
            "order_id refund_ts amount",
            *_not_negative("amount"),
            ORDER_REFERENCE,
        ),
        _feed(
            "events",
            "tracking",
            "event_id",
            "event_id VARCHAR, event_ts TIMESTAMP, visitor_id VARCHAR, customer_id VARCHAR, "
            "event_type VARCHAR, page_type VARCHAR, product_id VARCHAR, order_id VARCHAR, "
            "placement VARCHAR, device VARCHAR, utm_source VARCHAR, utm_medium VARCHAR, "
            "utm_campaign VARCHAR, referrer VARCHAR",
            "event_ts visitor_id event_type",
            InSet("event_type", EVENT_TYPES),
            InSet("page_type", PAGE_TYPES),
            InSet("device", DEVICES),
        ),
        _feed(
            "experiment_assignments",
            "tracking",
            "experiment_id visitor_id",
            "experiment_id VARCHAR, visitor_id VARCHAR, variant VARCHAR, assigned_ts TIMESTAMP",
            "variant assigned_ts",
        ),
        _feed(
            "marketing_spend",
            "marketing",
            "spend_date channel campaign_id",
            "spend_date DATE, channel VARCHAR, campaign_id VARCHAR, impressions BIGINT, "
            "clicks BIGINT, spend MONEY",
            "spend",
            *_not_negative("spend", "impressions", "clicks"),
            InPast("spend_date"),
        ),
        _feed(
            "campaigns",
            "marketing",
            "campaign_id",
            "campaign_id VARCHAR, campaign_name VARCHAR, campaign_type VARCHAR, "
            "channel VARCHAR, start_date DATE, end_date DATE, budget MONEY",
            "start_date end_date",
            *_not_negative("budget"),
            NotBefore("end_date", "start_date"),
        ),
        _feed(
            "reviews",
            "feedback",
            "review_id",
            "review_id VARCHAR, order_id VARCHAR, product_id VARCHAR, customer_id VARCHAR, "
            "rating INTEGER, review_text VARCHAR, review_ts TIMESTAMP",
            "order_id rating review_ts",
            Between("rating", 1, 5),
            ORDER_REFERENCE,
        ),
        _feed(
            "surveys",
            "feedback",
            "response_id",
            "response_id VARCHAR, customer_id VARCHAR, survey_type VARCHAR, score INTEGER, "
            "response_ts TIMESTAMP, comment VARCHAR",
            "survey_type score response_ts",
            InSet("survey_type", SURVEY_TYPES),
            Between("score", 0, 10, when=("survey_type", "nps")),
            Between("score", 1, 5, when=("survey_type", "csat")),
        ),
        _feed(
            "tickets",
            "feedback",
            "ticket_id",
            "ticket_id VARCHAR, customer_id VARCHAR, order_id VARCHAR, category VARCHAR, "
            "is_complaint BOOLEAN, opened_ts TIMESTAMP, first_response_ts TIMESTAMP, "
            "resolved_ts TIMESTAMP, channel VARCHAR",
            "opened_ts",
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
