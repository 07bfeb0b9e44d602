"""Map the hand-written shop exports in examples/byod/exports/ into a landing folder.

A Shopify-style order export (one row per line item, order fields on an order's first line
only), a customer export, a product export and a review app's export become the six feeds
they can fill, in one partition `dt=<export date>`. Timestamps keep their UTC offset: the
ingest converts them. Adapt the `map_*` functions to your exports (docs/your-data.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SHOP_TS_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # e.g. 2025-03-01 10:15:00 +0100


def iso(series: pd.Series, fmt: str | None = SHOP_TS_FORMAT) -> pd.Series:
    """Export timestamps as ISO 8601 with their offset; empty stays empty."""
    parsed = pd.to_datetime(series, format=fmt)
    return parsed.map(lambda ts: "" if pd.isna(ts) else ts.isoformat())


def order_status(row: pd.Series) -> str:
    """Shop financial + fulfillment status → the contract's order status."""
    if row["Cancelled at"] or row["Financial Status"] == "voided":
        return "cancelled"
    if row["Financial Status"] == "refunded":
        return "returned"
    if row["Fulfillment Status"] == "fulfilled":
        return "shipped"
    if row["Financial Status"] in ("paid", "partially_refunded"):
        return "paid"
    return "created"  # pending, authorized: placed, not paid


def map_customers(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customers["Customer ID"],
            "signup_ts": iso(customers["Created at"]),
            "signup_channel": "",  # not in this export: NULL
            "referrer_customer_id": "",
            "birth_year": "",
            "gender": "",
            "region": customers["Province"],
            "city": customers["City"],
            "updated_ts": iso(customers["Updated at"]),
        }
    )


def map_products(products: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": products["Variant SKU"],  # one product per sellable variant
            "product_name": products["Title"],
            "category": products["Type"],
            "subcategory": "",
            "brand": products["Vendor"],
            "list_price": products["Variant Price"],
            "updated_ts": iso(products["Updated at"]),
        }
    )


def split_orders(
    lines: pd.DataFrame, customer_of_email: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One row per line item → orders (header), order_items (lines), payments (one per paid)."""
    header_cols = [c for c in lines.columns if not c.startswith("Lineitem") and c != "Name"]
    # Order fields are only on an order's first line: carry them down within the order.
    lines[header_cols] = lines[header_cols].replace("", pd.NA)
    lines[header_cols] = lines.groupby("Name")[header_cols].ffill().fillna("")
    first = lines.drop_duplicates("Name").copy()
    order_id = first["Name"].str.lstrip("#")
    orders = pd.DataFrame(
        {
            "order_id": order_id,
            "customer_id": first["Email"].map(customer_of_email),
            "order_ts": iso(first["Created at"]),
            "platform": "web",
            "status": first.apply(order_status, axis=1),
            "coupon_code": first["Discount Code"],
            "discount_amount": first["Discount Amount"],
            "shipping_fee": first["Shipping"],
            "promised_delivery_date": "",
            "shipped_ts": iso(first["Fulfilled at"]),
            "delivered_ts": "",  # the shop does not know; a carrier export would
            "cancelled_ts": iso(first["Cancelled at"]),
            "updated_ts": iso(first["Updated at"]),
        }
    )
    items = pd.DataFrame(
        {
            "order_id": lines["Name"].str.lstrip("#"),
            "line_number": lines.groupby("Name").cumcount() + 1,
            "product_id": lines["Lineitem sku"],
            "quantity": lines["Lineitem quantity"],
            "unit_price": lines["Lineitem price"],
        }
    )
    paid = first[first["Paid at"] != ""]
    payments = pd.DataFrame(
        {
            # this export has no transaction id: one successful payment per paid order
            "payment_id": paid["Name"].str.lstrip("#") + "-1",
            "order_id": paid["Name"].str.lstrip("#"),
            "attempt_ts": iso(paid["Paid at"]),
            "method": paid["Payment Method"],
            "amount": paid["Total"],
            "status": "success",
        }
    )
    return orders, items, payments


def map_reviews(reviews: pd.DataFrame, customer_of_email: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review_id": reviews["review_id"],
            "order_id": reviews["order_number"].str.lstrip("#"),
            "product_id": reviews["product_sku"],
            "customer_id": reviews["reviewer_email"].map(customer_of_email),
            "rating": reviews["rating"],
            "review_text": reviews["body"],
            "review_ts": iso(reviews["created_at"], fmt="ISO8601"),
        }
    )


def build(exports: Path, out: Path, dt: str) -> dict[str, int]:
    """Write `<out>/<feed>/dt=<dt>/<feed>.csv` for the six feeds; return rows per feed."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(exports / name, dtype=str, keep_default_na=False)

    customers = read("shop_customers.csv")
    customer_of_email = dict(zip(customers["Email"], customers["Customer ID"], strict=True))
    orders, items, payments = split_orders(read("shop_orders.csv"), customer_of_email)
    feeds = {
        "customers": map_customers(customers),
        "products": map_products(read("shop_products.csv")),
        "orders": orders,
        "order_items": items,
        "payments": payments,
        "reviews": map_reviews(read("reviews.csv"), customer_of_email),
    }
    for feed, frame in feeds.items():
        folder = out / feed / f"dt={dt}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{feed}.csv", index=False)
    return {feed: len(frame) for feed, frame in feeds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=Path, default=HERE / "exports")
    parser.add_argument("--out", type=Path, default=HERE.parents[1] / "data" / "byod" / "landing")
    parser.add_argument("--dt", default="2025-03-03", help="last business date the exports cover")
    args = parser.parse_args()
    counts = build(args.exports, args.out, args.dt)
    for feed, rows in counts.items():
        print(f"{feed:<12} {rows:>3} rows -> {args.out / feed / f'dt={args.dt}'}")  # noqa: T201


if __name__ == "__main__":
    main()
