"""What a delivery holds that the ingest does not read is said, not skipped without a word.

A misspelt JSON key (`review_txt` for `review_text`) loads NULLs; a column outside the contract
and a top-level folder that is not a feed (`order/`, `returns/`) are not read. Each is a WARN of
the check `raw/<feed>:unexpected_input` (a folder on the feed nearest it by name) and so a line
of the run summary; `make validate-landing` says the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration import cli, deployment
from orchestration.assets.ingest import (
    UNEXPECTED_CHECK,
    LandingResource,
    build_ingest_asset,
    raw_asset_key,
)
from orchestration.contract import FEEDS
from orchestration.ingest.landing import discover_feed_files, stray_entries
from orchestration.ingest.loader import load_feed
from orchestration.partitions import landing_range
from orchestration.resources import WarehouseResource
from orchestration.validate_landing import validate

FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_landing"
REVIEWS_JSONL = "reviews/dt=2025-03-03/reviews.jsonl"
MISSPELT = (
    '{"review_id": "rv1", "order_id": "o1", "product_id": "p1", "customer_id": "c1", '
    '"rating": 4, "review_txt": "Nice", "review_ts": "2025-03-03 18:00:00"}\n'
)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """The hand-written landing with reviews as JSON lines whose text key is misspelt, an
    `order/` folder (a misspelt orders) and an `inventory/` folder (no feed like it)."""
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    (root / "reviews/dt=2025-03-03/reviews.csv").unlink()
    (root / REVIEWS_JSONL).write_text(MISSPELT)
    for stray in ("order/dt=2025-03-03", "inventory/dt=2025-03-03"):
        (root / stray).mkdir(parents=True)
        (root / stray / "part-0.csv").write_text("id\n1\n")
    return root


def unexpected_input(conn, feed, files, root) -> list[str]:
    return load_feed(conn, feed, files, root, load_id="t").not_read


@pytest.fixture
def conn(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def test_a_misspelt_json_key_is_named_with_the_key_it_leaves_null(conn, landing):
    files = discover_feed_files(landing, "reviews")
    assert unexpected_input(conn, FEEDS["reviews"], files, landing) == [
        f"{REVIEWS_JSONL}: key(s) review_txt not in the contract "
        "(absent, read as NULL: review_text)"
    ]


def test_extra_csv_and_parquet_columns_are_named_unnamed_ones_are_not(conn, tmp_path):
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    products = root / "products/dt=2025-02-20/products.csv"
    header, *rows = products.read_text().splitlines()
    products.write_text("\n".join([f"{header},color,", *(f"{r},red," for r in rows)]) + "\n")
    payments = root / "payments/dt=2025-03-03"
    payments.mkdir()
    pq.write_table(
        pa.table(
            {
                **{c: pa.array([None], pa.string()) for c in FEEDS["payments"].columns},
                "__index_level_0__": [0],
            }
        ),
        payments / "p.parquet",
    )
    found = {
        feed: unexpected_input(conn, FEEDS[feed], discover_feed_files(root, feed), root)
        for feed in ("products", "payments", "orders")
    }
    assert found == {
        "products": ["products/dt=2025-02-20/products.csv: column(s) color not in the contract"],
        "payments": [
            "payments/dt=2025-03-03/p.parquet: column(s) __index_level_0__ not in the contract"
        ],
        "orders": [],
    }


def test_every_stray_folder_is_named_once_on_the_feed_nearest_it(landing):
    (landing / "returns").mkdir()
    strays = stray_entries(landing, list(FEEDS))
    named = {feed: [m for _, nearest, m in strays if nearest == feed] for feed in FEEDS}
    assert named["orders"] == [
        "folder order/ under the landing is not a feed of the contract; did you mean orders?: "
        "not read"
    ]
    assert named["refunds"] == [
        "folder returns/ under the landing is not a feed of the contract; did you mean refunds?: "
        "not read"
    ]
    everything = [line for lines in named.values() for line in lines]
    assert len(everything) == 3
    (inventory,) = [line for line in everything if "inventory" in line]
    assert (
        inventory == "folder inventory/ under the landing is not a feed of the contract: not read"
    )


def test_the_run_summary_warns_about_what_was_not_read(landing, tmp_path, capsys):
    resources = {
        "landing": LandingResource(root=str(landing)),
        "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
    }
    assets = [build_ingest_asset(FEEDS[name]) for name in ("orders", "reviews")]
    dates = landing_range(landing)
    assert dates is not None
    result = dg.materialize(assets, resources=resources, raise_on_error=False, tags=dates.tags())
    assert result.success
    checks = {
        e.asset_key.path[-1]: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == UNEXPECTED_CHECK
    }
    assert (checks["reviews"].passed, checks["reviews"].severity) == (
        False,
        dg.AssetCheckSeverity.WARN,
    )
    assert checks["orders"].description == (
        "not read: folder order/ under the landing is not a feed of the contract; "
        "did you mean orders?: not read"
    )
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT review_text FROM raw.reviews").fetchall() == [(None,)]

    cli.print_report(cli.report_from_events(result.run_id, result.success, result.all_events))
    out = capsys.readouterr().out
    assert (
        f"  WARN  check raw/reviews:{UNEXPECTED_CHECK}: not read: {REVIEWS_JSONL}: key(s) "
        "review_txt not in the contract (absent, read as NULL: review_text)\n"
    ) in out
    assert f"  WARN  check raw/orders:{UNEXPECTED_CHECK}: not read: folder order/" in out
    assert raw_asset_key("orders").to_user_string() == "raw/orders"


def test_a_clean_load_passes(tmp_path):
    resources = {
        "landing": LandingResource(root=str(FIXTURE)),
        "warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb")),
    }
    dates = landing_range(FIXTURE)
    assert dates is not None
    result = dg.materialize(
        [build_ingest_asset(FEEDS["orders"])], resources=resources, tags=dates.tags()
    )
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == UNEXPECTED_CHECK
    ]
    assert evaluation.passed


def test_validate_landing_says_the_same(landing):
    report = validate(landing, deployment.Deployment(source="test"))
    layout = {p.file: p.message for p in report.problems if p.kind == "layout"}
    assert layout["order"].endswith("did you mean orders?: not read")
    assert layout["inventory"] == (
        "folder inventory/ under the landing is not a feed of the contract: not read"
    )
    (extra,) = [p for p in report.problems if p.kind == "extra_column"]
    assert (extra.feed, extra.file) == ("reviews", REVIEWS_JSONL)
    assert "review_txt" in extra.message
