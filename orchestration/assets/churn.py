"""The churn_risk mart: a scikit-learn model trained on earlier customer snapshots.

dbt's int_customer_churn_features has a row per customer with a paid order and snapshot (every
30 days back), labelled "no paid order in the next churn_horizon_days" where that has passed.
The back-test trains on the snapshots whose horizon ended by the latest observed one and scores
that one; the published model trains on every observed snapshot and scores the latest one.
Without such snapshots or with one class only, the mart is empty and its metadata says why.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb

from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

if TYPE_CHECKING:  # pandas loads when the asset runs, not with the definitions
    import pandas as pd

FEATURES_KEY = dg.AssetKey(["intermediate", "int_customer_churn_features"])
CHURN_KEY = dg.AssetKey(["marts", "churn_risk"])
FEATURES_TABLE = ".".join(FEATURES_KEY.path)
FEATURES = ["recency_days", "frequency", "monetary", "tenure_days", "paid_orders_90d"]
FEATURES += ["tickets_90d", "complaints_90d", "reviews", "negative_reviews", "active_days_90d"]
HIGH_RISK, MEDIUM_RISK = 0.6, 0.3  # churn_probability from which risk_band is high / medium
CALIBRATION_BINS = 5  # equal-width bins of predicted probability
TABLE_COMMENT = (
    "Churn risk per customer with a paid order at the snapshot date: the probability of no paid "
    "order in the next churn_horizon_days, from a logistic regression trained on earlier "
    "snapshots (docs/bi.md)."
)
COLUMNS = {
    "as_of_date": ("DATE", "Snapshot date the customers are scored at (key part 1)."),
    "customer_id": ("VARCHAR", "Customer with a paid order up to the snapshot (key part 2)."),
    "churn_probability": ("DOUBLE", "Probability of no paid order in the next horizon days."),
    "risk_band": ("VARCHAR", "high (probability >= 0.6), medium (>= 0.3) or low."),
    "model_auc": ("DOUBLE", "Back-test ROC AUC on the latest fully observed snapshot."),
    "recency_days": ("BIGINT", "Days since the last paid order."),
    "frequency": ("BIGINT", "Paid orders in the RFM window (rfm_window_days)."),
    "monetary": ("DECIMAL(18,2)", "Net revenue of the paid orders in the RFM window."),
}


def fit(rows: "pd.DataFrame") -> Any:
    """A seeded StandardScaler + LogisticRegression pipeline fitted to `rows`."""
    from sklearn.linear_model import LogisticRegression  # scikit-learn: only when training
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0))
    return model.fit(rows[FEATURES].astype(float), rows["is_churned"].astype(int))


def churn_probability(model: Any, rows: "pd.DataFrame") -> "pd.Series":
    import pandas as pd

    return pd.Series(model.predict_proba(rows[FEATURES].astype(float))[:, 1], index=rows.index)


def calibration(observed: "pd.Series", predicted: "pd.Series") -> list[dict]:
    """Per bin of predicted probability: customers, mean predicted and observed churn rate."""
    import pandas as pd

    bins = pd.cut(predicted, [i / CALIBRATION_BINS for i in range(CALIBRATION_BINS + 1)])
    frame = pd.DataFrame({"p": predicted, "y": observed.astype(float)})
    return [
        {"bin": str(b), "customers": len(g), "predicted": round(float(g["p"].mean()), 4)}
        | {"observed": round(float(g["y"].mean()), 4)}
        for b, g in frame.groupby(bins, observed=True)
    ]


def backtest(features: "pd.DataFrame") -> tuple[dict, str | None]:
    """The back-test's metadata, and why the model cannot be trained (None: it can)."""
    observed = features[features["is_horizon_observed"]]
    if observed.empty:
        return {}, "too short to train: no snapshot is followed by churn_horizon_days of data"
    test_date = observed["snapshot_date"].max()
    train = observed[observed["horizon_end_date"] <= test_date]
    test = observed[observed["snapshot_date"] == test_date]
    if train.empty:
        day = test_date.date()
        return {}, f"too short to train: no snapshot's horizon ends by the back-test one ({day})"
    for name, rows in (("training", train), ("back-test", test)):
        if rows["is_churned"].nunique() < 2:
            return {}, f"too short to train: the {name} rows are all one class ({len(rows)})"
    from sklearn.metrics import roc_auc_score

    predicted = churn_probability(fit(train), test)
    return {
        "auc": round(float(roc_auc_score(test["is_churned"].astype(int), predicted)), 4),
        "calibration": dg.MetadataValue.json(calibration(test["is_churned"], predicted)),
        "backtest_snapshot": str(test_date.date()),
        "training_snapshots": sorted(str(d.date()) for d in train["snapshot_date"].unique()),
    }, None


def score(features: "pd.DataFrame", auc: float) -> "pd.DataFrame":
    """The latest snapshot's customers scored by a model trained on every observed snapshot."""
    import numpy as np

    latest = features[features["is_latest_snapshot"]].copy()
    model = fit(features[features["is_horizon_observed"]])
    latest["churn_probability"] = p = churn_probability(model, latest)
    latest["risk_band"] = np.select([p >= HIGH_RISK, p >= MEDIUM_RISK], ["high", "medium"], "low")
    latest["model_auc"] = auc
    return latest.rename(columns={"snapshot_date": "as_of_date"})[list(COLUMNS)]


def write_mart(
    conn: duckdb.DuckDBPyConnection, scored: "pd.DataFrame | None", comment: str
) -> None:
    """The mart as `scored` (None: empty), with its table and column comments."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    columns = ", ".join(f"{column} {kind}" for column, (kind, _) in COLUMNS.items())
    conn.execute(f"CREATE OR REPLACE TABLE marts.churn_risk ({columns})")
    conn.execute(f"COMMENT ON TABLE marts.churn_risk IS $${comment}$$")
    for column, (_, text) in COLUMNS.items():
        conn.execute(f"COMMENT ON COLUMN marts.churn_risk.{column} IS $${text}$$")
    if scored is not None:
        conn.execute("INSERT INTO marts.churn_risk BY NAME SELECT * FROM scored")  # by name


@dg.asset(
    key=CHURN_KEY,
    deps=[FEATURES_KEY],
    group_name="marts_customers",
    kinds={"scikitlearn", "duckdb"},
    pool=WAREHOUSE_POOL,
    description=TABLE_COMMENT,
)
def churn_risk(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        try:
            query = f"SELECT * FROM {FEATURES_TABLE} ORDER BY snapshot_date, customer_id"
            features = conn.execute(query).df()
        except duckdb.CatalogException as exc:  # dbt has not built it
            reason = f"churn_risk needs {FEATURES_TABLE}: {str(exc).splitlines()[0]}"
            raise dg.Failure(description=reason, allow_retries=False) from None
        metadata, why_not = backtest(features)
        if why_not:
            context.log.warning(f"churn_risk is empty: {why_not}")
            comment = f"{TABLE_COMMENT} Empty: {why_not}."
            write_mart(conn, None, comment)
            return dg.MaterializeResult(metadata={"rows": 0, "not_trained": why_not})
        scored = score(features, metadata["auc"])
        write_mart(conn, scored, TABLE_COMMENT)
    return dg.MaterializeResult(metadata={**metadata, "rows": len(scored)})
