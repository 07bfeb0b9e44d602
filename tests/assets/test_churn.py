"""churn_risk: the asset trains, back-tests and scores, or writes an empty mart and says why.

The session sample (91 days) is too short for a 90-day horizon. Training is tested on a feature
table written here (a known signal: churners are the long-absent) and, in the slow tier, on a
year-long generated landing through the whole pipeline, reconciled with the landing files.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import SampleRun

from orchestration import cli
from orchestration.assets.churn import CHURN_KEY, COLUMNS, HIGH_RISK, MEDIUM_RISK, churn_risk
from orchestration.resources import WarehouseResource
from orchestration.sample import generate
from tests.test_reconciliation import latest, local_date, read_feed

AS_OF = date(2025, 6, 30)
HORIZON = 90


def materialize(warehouse: Path) -> dg.ExecuteInProcessResult:
    resources = {"warehouse": WarehouseResource(path=str(warehouse))}
    return dg.materialize([churn_risk], resources=resources, raise_on_error=False)


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.asset_materializations_for_node(churn_risk.op.name)
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def synthetic_features(churners: bool = True, customers: int = 300) -> pd.DataFrame:
    """Snapshots every 30 days up to AS_OF; a customer churns when long absent (plus noise)."""
    rng = np.random.default_rng(3)
    frames = []
    for k in range(8):
        snapshot = AS_OF - timedelta(days=30 * k)
        recency = rng.integers(0, 200, customers)
        churned = (recency + rng.normal(0, 40, customers) > 100) if churners else recency < 0
        horizon_end = snapshot + timedelta(days=HORIZON)
        observed = horizon_end <= AS_OF
        frame = pd.DataFrame(
            {
                "snapshot_date": snapshot,
                "customer_id": [f"c{i:04d}" for i in range(customers)],
                "is_latest_snapshot": k == 0,
                "recency_days": recency,
                "frequency": rng.integers(1, 6, customers),
                "monetary": rng.integers(10, 5000, customers) / 10,
                "horizon_end_date": horizon_end,
                "is_horizon_observed": observed,
                "is_churned": churned if observed else None,
            }
        )
        for column in ("tenure_days", "paid_orders_90d", "tickets_90d", "complaints_90d"):
            frame[column] = rng.integers(0, 4, customers)
        for column in ("reviews", "negative_reviews", "active_days_90d"):
            frame[column] = rng.integers(0, 4, customers)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_features(warehouse: Path, features: pd.DataFrame) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("CREATE SCHEMA intermediate")
        conn.register("features", features)
        conn.execute(
            "CREATE TABLE intermediate.int_customer_churn_features AS SELECT * REPLACE ("
            "CAST(snapshot_date AS DATE) AS snapshot_date, "
            "CAST(horizon_end_date AS DATE) AS horizon_end_date, "
            "CAST(is_churned AS BOOLEAN) AS is_churned) FROM features"
        )


def read(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_trains_backtests_and_scores_the_latest_snapshot(tmp_path: Path):
    warehouse = tmp_path / "w.duckdb"
    write_features(warehouse, synthetic_features())
    result = materialize(warehouse)
    assert result.success
    meta = metadata(result)
    # back-test on the latest observed snapshot (AS_OF - 90), trained on those whose horizon
    # ended by then: AS_OF - 180 and earlier
    assert meta["backtest_snapshot"] == "2025-04-01"
    assert meta["training_snapshots"] == [
        str(AS_OF - timedelta(days=30 * k)) for k in range(7, 5, -1)
    ]
    assert meta["auc"] >= 0.8
    assert sum(b["customers"] for b in meta["calibration"]) == 300
    assert meta["rows"] == 300
    types = read(
        warehouse,
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE schema_name = 'marts' AND table_name = 'churn_risk'",
    )
    assert [(c, t) for c, t, _ in types] == [(c, t) for c, (t, _) in COLUMNS.items()]
    assert all(comment for _, _, comment in types)
    rows = read(
        warehouse,
        "SELECT as_of_date, churn_probability, risk_band, model_auc FROM marts.churn_risk",
    )
    assert {r[0] for r in rows} == {AS_OF}
    assert {r[3] for r in rows} == {meta["auc"]}
    for _, probability, band, _ in rows:
        want = (
            "high"
            if probability >= HIGH_RISK
            else "medium"
            if probability >= MEDIUM_RISK
            else "low"
        )
        assert band == want
    assert {r[2] for r in rows} == {"high", "medium", "low"}
    # seeded and deterministic: a second run writes the same rows
    before = read(warehouse, "SELECT * FROM marts.churn_risk ORDER BY customer_id")
    assert materialize(warehouse).success
    assert read(warehouse, "SELECT * FROM marts.churn_risk ORDER BY customer_id") == before


def test_one_class_only_leaves_the_mart_empty_and_says_why(tmp_path: Path):
    warehouse = tmp_path / "w.duckdb"
    write_features(warehouse, synthetic_features(churners=False))
    result = materialize(warehouse)
    assert result.success
    meta = metadata(result)
    assert meta["rows"] == 0
    assert meta["not_trained"].startswith("too short to train: the training rows are all one")
    assert read(warehouse, "SELECT count(*) FROM marts.churn_risk") == [(0,)]
    (comment,) = read(
        warehouse, "SELECT comment FROM duckdb_tables() WHERE table_name = 'churn_risk'"
    )
    assert "Empty: too short to train" in comment[0]


def test_fails_in_one_line_without_the_features(tmp_path: Path):
    result = materialize(tmp_path / "w.duckdb")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("churn_risk needs intermediate.int_customer_churn_features: ")
    assert "\n" not in description


def test_session_sample_is_too_short_and_the_published_mart_says_so(sample_run: SampleRun):
    event = sample_run.instance.get_latest_materialization_event(CHURN_KEY)
    reason = event.asset_materialization.metadata["not_trained"].value
    assert reason.startswith("too short to train")
    # independently: 91 days of data leave no snapshot 2 x 90 days before the end
    orders = latest(read_feed(sample_run.landing, "orders"), ["order_id"], "updated_ts")
    days = local_date(orders["order_ts"])
    assert (days.max() - days.min()).days < 2 * HORIZON
    serving = sample_run.serving / "serving.duckdb"
    assert sample_run.query("SELECT count(*) FROM marts.churn_risk", serving) == [(0,)]
    (comment,) = sample_run.query(
        "SELECT comment FROM duckdb_tables() WHERE table_name = 'churn_risk'", serving
    )
    assert "Empty: too short to train" in comment[0]


def expected_rfm(landing: Path, as_of: date) -> pd.DataFrame:
    """recency_days, frequency, monetary of every customer with a paid order up to `as_of`,
    from the landing files (catalog: paid = a successful payment; 365-day window, net of the
    refunds dated up to `as_of`)."""
    orders = latest(read_feed(landing, "orders"), ["order_id"], "updated_ts")
    items = latest(read_feed(landing, "order_items"), ["order_id", "line_number"], None)
    payments = latest(read_feed(landing, "payments"), ["payment_id"], None)
    refunds = latest(read_feed(landing, "refunds"), ["refund_id"], None)
    customers = latest(read_feed(landing, "customers"), ["customer_id"], "updated_ts")
    items["value"] = items["quantity"].astype(int) * items["unit_price"].astype(float)
    orders["value"] = (
        orders["order_id"].map(items.groupby("order_id")["value"].sum()).fillna(0.0)
        - orders["discount_amount"].astype(float).fillna(0)
        + orders["shipping_fee"].astype(float).fillna(0)
    )
    orders["day"] = local_date(orders["order_ts"])
    paid_ids = set(payments.loc[payments["status"] == "success", "order_id"])
    paid = orders[orders["order_id"].isin(paid_ids) & (orders["day"] <= as_of)]
    paid = paid[paid["customer_id"].isin(customers["customer_id"])]
    in_window = paid[paid["day"].map(lambda d: (as_of - d).days < 365)]
    refunds["day"] = local_date(refunds["refund_ts"])
    refunds["amount"] = refunds["amount"].astype(float)
    refunded = refunds[(refunds["day"] <= as_of) & refunds["order_id"].isin(in_window["order_id"])]
    refund_per_customer = refunded.merge(in_window[["order_id", "customer_id"]], on="order_id")
    want = paid.groupby("customer_id").agg(last=("day", "max"))
    want["recency_days"] = want["last"].map(lambda d: (as_of - d).days)
    want["frequency"] = in_window.groupby("customer_id").size()
    want["monetary"] = (
        in_window.groupby("customer_id")["value"]
        .sum()
        .sub(refund_per_customer.groupby("customer_id")["amount"].sum(), fill_value=0)
    )
    return want.fillna({"frequency": 0, "monetary": 0.0})


def test_year_of_landing_trains_reaches_the_auc_and_reconciles(
    tmp_path_factory: pytest.TempPathFactory,
):
    root = tmp_path_factory.mktemp("churn_year")
    manifest = generate(root / "landing", scale=0.005, seed=42, days=365)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANDING_DIR", str(root / "landing"))
        mp.setenv("WAREHOUSE_PATH", str(root / "warehouse.duckdb"))
        mp.setenv("SERVING_DIR", str(root / "serving"))
        (root / "dagster_home").mkdir()
        with dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
            report = cli.run_pipeline(instance=instance)
            event = instance.get_latest_materialization_event(CHURN_KEY)
    assert report.success, report.failed_steps
    assert not [c for c in report.failed_checks + report.warned_checks if "churn" in c]
    meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert "not_trained" not in meta
    assert meta["auc"] >= 0.70
    assert len(meta["training_snapshots"]) >= 2
    mart = duckdb.connect(str(root / "serving" / "serving.duckdb"), read_only=True)
    got = mart.execute("SELECT * FROM marts.churn_risk").df().set_index("customer_id")
    mart.close()
    (as_of,) = {pd.Timestamp(day).date() for day in got["as_of_date"]}
    want = expected_rfm(root / "landing", as_of)
    assert set(got.index) == set(want.index)
    got = got.loc[want.index]
    assert (got["recency_days"].to_numpy() == want["recency_days"].to_numpy()).all()
    assert (got["frequency"].to_numpy() == want["frequency"].to_numpy()).all()
    np.testing.assert_allclose(got["monetary"].astype(float), want["monetary"], atol=0.011)
    assert (got["model_auc"] == meta["auc"]).all()
    # the sample's planted churn-prone customers rank above the others
    prone = got.index.isin(manifest["planted"]["churn"]["prone_customers"])
    assert prone.any()
    assert got.loc[prone, "churn_probability"].mean() > got.loc[~prone, "churn_probability"].mean()
