"""`make pipeline` over a landing written by hand with the contract's minimum columns only.

The expected marts are computed by hand in tests/fixtures/handwritten_landing (UTC business days):

2025-03-01: o1 (c1, paid 210 = 100 + 2×50 + 10 shipping), o2 (c2, 23:30, merchandise 50, discount
5, payment failed, cancelled); o1 is partially refunded 50 on 03-03. Events: v1 home → product →
add_to_cart → purchase (09:50–10:00, 600 s), v2 a single product page_view (bounce).
2025-03-02: o3 (c1, merchandise 90, coupon −10, paid on the second attempt: 80). v1 product view →
purchase (300 s).
2025-03-03: o4 (c2, 50, never paid); refund r1 50; no events: zero counts, NULL ratios.
With `business_timezone: UTC`, o2 at 23:30 stays on 03-01 (in Asia/Shanghai it would be 03-02).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration import settings

LANDING = Path(__file__).parent / "fixtures" / "handwritten_landing"
D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("handwritten")
    env = {
        **os.environ,
        "LANDING_DIR": str(LANDING),
        "WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "SERVING_DIR": str(root / "serving"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DBT_VARS": "{business_timezone: UTC}",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "pipeline"],
        cwd=settings.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return root


def rows(db: Path, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_daily_sales_matches_hand_computed_rows(warehouse):
    got = rows(
        warehouse / "warehouse.duckdb",
        "SELECT business_date, orders_placed, gmv, paid_orders, paid_revenue, units_sold, buyers, "
        "aov, revenue_per_buyer, refunds, net_revenue, refund_rate, return_rate, "
        "coupon_usage_rate, discount_share FROM marts.daily_sales ORDER BY 1",
    )
    m = Decimal
    expected = [
        (D1, 2, m("250.00"), 1, m("210.00"), 3, 1, 210.0, 210.0, m("0.00"), m("210.00"),
         50 / 210, 0.0, 0.0, 5 / 250),
        (D2, 1, m("90.00"), 1, m("80.00"), 1, 1, 80.0, 80.0, m("0.00"), m("80.00"),
         0.0, 0.0, 1.0, 10 / 90),
        (D3, 1, m("50.00"), 0, m("0.00"), 0, 0, None, None, m("50.00"), m("-50.00"),
         None, None, None, 0.0),
    ]  # fmt: skip
    assert len(got) == len(expected)
    for got_row, want in zip(got, expected, strict=True):
        assert got_row[:7] == want[:7]
        for g, w in zip(got_row[7:], want[7:], strict=True):
            assert g == (pytest.approx(float(w)) if isinstance(w, float) else w), got_row


def test_daily_traffic_matches_hand_computed_rows(warehouse):
    got = rows(
        warehouse / "warehouse.duckdb",
        "SELECT business_date, page_views, unique_visitors, new_visitors, sessions, "
        "pages_per_session, avg_session_duration_s, bounce_rate, product_page_bounce_rate, "
        "session_conversion_rate, visitor_conversion_rate, cart_abandonment_rate "
        "FROM marts.daily_traffic ORDER BY 1",
    )
    expected = [
        (D1, 3, 2, 2, 2, 1.5, 300.0, 0.5, 1.0, 0.5, 0.5, 0.0),
        (D2, 1, 1, 0, 1, 1.0, 300.0, 0.0, 0.0, 1.0, 1.0, None),
        (D3, 0, 0, 0, 0, None, None, None, None, None, None, None),
    ]
    assert [r[:5] for r in got] == [e[:5] for e in expected]
    for got_row, want in zip(got, expected, strict=True):
        assert [None if v is None else pytest.approx(v) for v in want[5:]] == list(got_row[5:])


def test_marts_are_published_for_bi(warehouse):
    serving = warehouse / "serving"
    published = rows(serving / "serving.duckdb", "SELECT count(*) FROM marts.daily_sales")[0][0]
    assert published == 3
    assert (serving / "parquet" / "daily_sales.parquet").exists()
