"""The worked example of docs/your-data.md through the real pipeline: six feeds only.

examples/byod/build_landing.py maps the hand-written exports in examples/byod/exports/ into
customers, products, orders, order_items, payments and reviews; examples/byod/warehouse.yaml
says those six are all the shop delivers (business time zone Europe/Berlin, EUR).
examples/byod/run.sh, the command of the docs, builds the landing, validates it and runs the
pipeline (dbt build, GX checks, publish) in a Dagster instance of its own, with every path under
its folder (BYOD_DIR, here a temp dir); every mart must build, and nothing may be written
elsewhere.
"""

# Hand computation (timestamps in the exports carry +01:00, Berlin winter time):
#
# - #1001 (Alice, 7001) 2025-03-01 10:15 local: 2 x BEAN-1KG 24.00 + 1 x MUG-01 12.00 = 60.00
#   merchandise, shipping 4.90, paid 64.90.
# - #1002 (Bob, 7002) 03-01 23:30 local: 24.00 + 12.00 = 36.00, coupon WELCOME10 -3.60, no
#   shipping, paid 32.40.
# - #1003 (Alice) 03-02 00:30 local = 03-01 23:30 UTC, so business day 03-02 in Berlin (03-01 in
#   UTC): GRIND-01 89.00, pending, never paid.
# - #1004 (Carol, 7003) 03-02 14:00: 3 x MUG-01 = 36.00, voided -> cancelled, never paid.
# - #1005 (Bob) 03-03 09:00: GRIND-01 89.00, no shipping, paid 89.00.
#
# daily_sales (gmv = merchandise of orders placed, any status; paid_revenue = merchandise -
# discount + shipping of the day's orders with a successful payment):
#   03-01: 2 orders, gmv 60 + 36 = 96.00, 2 paid, 64.90 + 32.40 = 97.30, units 3 + 2 = 5, 2 buyers,
#          aov 97.30 / 2 = 48.65
#   03-02: 2 orders, gmv 89 + 36 = 125.00, 0 paid, paid_revenue 0.00, aov NULL
#   03-03: 1 order, gmv 89.00, 1 paid, 89.00
# customer_snapshot (as_of_date = last business date of the data = 03-03), Bob: paid orders on
#   03-01 (32.40) and 03-03 (89.00) -> recency 0 days, frequency 2, monetary 121.40 (no refunds
#   feed, so nothing to subtract), first paid order 2 days ago -> lifecycle `new`, net spend
#   121.40 < 2000 -> tier `regular`. Carol: no paid order -> `prospect`, recency NULL.
# daily_satisfaction 03-03: reviews rated 5, 2, 4 (18:00-20:00 local) -> 3 reviews, avg_rating
#   11/3, 2 positive (4-5), 1 negative (1-2).
# Traffic and marketing marts need `events` / `marketing_spend` / `campaigns`: empty.

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from conftest import snapshot_tree, tree_changes

from orchestration import settings

EXAMPLE = settings.REPO_ROOT / "examples" / "byod"
D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
TRAFFIC = ("daily_traffic", "daily_channel", "daily_device", "daily_funnel", "daily_ctr")
MARKETING = ("marketing_daily", "campaign_lift")


def build_landing(out: Path) -> dict[str, int]:
    spec = importlib.util.spec_from_file_location("build_landing", EXAMPLE / "build_landing.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(EXAMPLE / "exports", out, "2025-03-03")


@dataclass
class Run:
    folder: Path  # BYOD_DIR: everything the example writes
    report: dict[str, Any]  # `orchestration.cli pipeline --report-json`
    instance: dg.DagsterInstance  # the example's own, in BYOD_DIR/dagster_home
    session_changes: list[str]  # what the run changed in the test session's default folders

    def query(self, sql: str) -> list[tuple]:
        conn = duckdb.connect(str(self.folder / "warehouse.duckdb"), read_only=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def metadata(self, *path: str) -> dict[str, object]:
        event = self.instance.get_latest_materialization_event(dg.AssetKey(list(path)))
        assert event is not None and event.asset_materialization is not None
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, isolated_paths: Path) -> Iterator[Run]:
    """examples/byod/run.sh as docs/your-data.md runs it, with BYOD_DIR in a temp dir; the
    environment's own paths (the session's, tests/conftest.py) must not be written."""
    root = tmp_path_factory.mktemp("six_feeds")
    folder = root / "byod"
    before = snapshot_tree(isolated_paths)
    proc = subprocess.run(
        [str(EXAMPLE / "run.sh"), "--report-json", str(root / "report.json")],
        env={**os.environ, "BYOD_DIR": str(folder), "PYTHON": sys.executable},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    changes = tree_changes(before, snapshot_tree(isolated_paths))
    report = json.loads((root / "report.json").read_text())
    with pytest.MonkeyPatch.context() as mp:
        # the instance finds its storage under DAGSTER_HOME
        mp.setenv("DAGSTER_HOME", str(folder / "dagster_home"))
        with dg.DagsterInstance.get() as instance:
            yield Run(folder, report, instance, changes)


def test_build_landing_maps_the_exports_to_six_feeds(tmp_path: Path) -> None:
    assert build_landing(tmp_path / "landing") == {
        "customers": 3,
        "products": 3,
        "orders": 5,
        "order_items": 7,
        "payments": 3,
        "reviews": 3,
    }
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.csv"))
    feeds = ["customers", "order_items", "orders", "payments", "products", "reviews"]
    assert written == [f"landing/{feed}/dt=2025-03-03/{feed}.csv" for feed in feeds]


def test_the_example_writes_under_its_own_folder_only(run: Run) -> None:
    assert run.session_changes == []  # nor into data/: the session's guard (tests/conftest.py)
    written = {p.name for p in run.folder.iterdir()}
    assert {"landing", "warehouse.duckdb", "serving", "docs", "dagster_home"} <= written
    assert written <= {"landing", "warehouse.duckdb", "serving", "docs", "dagster_home", "spark"}
    assert (run.folder / "serving" / "serving.duckdb").is_file()
    assert (run.folder / "docs" / "index.html").is_file()  # its own GX Data Docs
    (dagster_run,) = run.instance.get_runs()  # its own Dagster history: this run only
    assert dagster_run.run_id == run.report["run_id"]


def test_every_asset_and_check_passes(run: Run) -> None:
    assert run.report["ok"], (run.report["failed_steps"], run.report["failed_checks"])
    assert run.report["skipped_steps"] == []
    marts = run.query("SELECT table_name FROM information_schema.tables WHERE table_schema='marts'")
    # every mart of docs/specs/mart-contract.md: 29 of the first round, 12 of the second
    assert len({n for (n,) in marts if not n.startswith("_")}) == 29 + 12


def test_daily_sales_matches_hand_computed_rows(run: Run) -> None:
    got = run.query(
        "SELECT business_date, orders_placed, gmv, paid_orders, paid_revenue, units_sold, buyers, "
        "aov, refunds, net_revenue FROM marts.daily_sales ORDER BY 1"
    )
    m = Decimal
    assert got == [
        (D1, 2, m("96.00"), 2, m("97.30"), 5, 2, m("48.65"), m("0.00"), m("97.30")),
        (D2, 2, m("125.00"), 0, m("0.00"), 0, 0, None, m("0.00"), m("0.00")),
        (D3, 1, m("89.00"), 1, m("89.00"), 1, 1, m("89.00"), m("0.00"), m("89.00")),
    ]


def test_customer_snapshot_rows(run: Run) -> None:
    got = run.query(
        "SELECT customer_id, as_of_date, recency_days, frequency, monetary, lifecycle_stage, "
        "member_tier, net_spend_365d, first_paid_order_date, last_paid_order_date "
        "FROM marts.customer_snapshot WHERE customer_id IN ('7002', '7003') ORDER BY 1"
    )
    assert got[0] == (
        "7002",
        D3,
        0,
        2,
        Decimal("121.40"),
        "new",
        "regular",
        Decimal("121.40"),
        D1,
        D3,
    )
    assert got[1][:3] == ("7003", D3, None)
    assert got[1][5] == "prospect"


def test_daily_satisfaction_avg_rating(run: Run) -> None:
    got = run.query(
        "SELECT business_date, review_count, avg_rating, positive_reviews, negative_reviews "
        "FROM marts.daily_satisfaction ORDER BY 1"
    )
    assert [r[0] for r in got] == [D1, D2, D3]
    assert got[0][1:] == (0, None, 0, 0) and got[1][1:] == (0, None, 0, 0)
    assert got[2][:2] == (D3, 3)
    assert got[2][2] == pytest.approx(11 / 3)
    assert got[2][3:] == (2, 1)


def test_traffic_and_marketing_marts_are_empty(run: Run) -> None:
    for mart in (*TRAFFIC, *MARKETING, "ab_test_results", "service_daily"):
        assert run.query(f"SELECT count(*) FROM marts.{mart}") == [(0,)], mart


def test_metadata_names_the_missing_feeds(run: Run) -> None:
    traffic = run.metadata("marts", "daily_traffic")
    assert "events" in str(traffic["missing_feeds"]).split(", ")
    assert traffic["emptied_for_missing_feeds"] == "events"
    assert traffic["complete_inputs"] is False
    ratings = run.metadata("marts", "product_ratings")
    assert (ratings["missing_feeds"], ratings["complete_inputs"]) == ("", True)
    assert run.metadata("raw", "events")["delivered"] is False
    assert run.metadata("raw", "orders")["delivered"] is True
