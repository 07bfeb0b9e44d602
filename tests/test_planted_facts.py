"""The facts the generator planted in the sample (its _manifest.json) are recovered by the marts."""

from __future__ import annotations

from conftest import SampleRun

MONITORED = {
    "gmv",
    "paid_orders",
    "session_conversion_rate",
    "payment_success_rate",
    "negative_review_rate",
    "complaint_rate",
}
# Tolerance for flags on days nothing was planted, for the volume KPIs. With 4 same-weekday
# baseline points a |z| > 3 is not rare on a small sample (documented in kpi_anomalies' docs);
# the small-count ratios (reviews, complaints, payment success) are noisier still and not bounded.
FALSE_FLAG_SHARE_MAX = 0.05


def test_ab_test_with_a_real_effect_is_significant_and_the_other_is_not(sample_run: SampleRun):
    planted = sample_run.manifest["planted"]["experiments"]
    rows = {
        exp: sig
        for exp, sig in sample_run.query(
            "SELECT experiment_id, is_significant FROM marts.ab_test_results "
            "WHERE variant <> 'control'"
        )
    }
    assert set(rows) == set(planted)
    for experiment, facts in planted.items():
        assert rows[experiment] is facts["has_effect"], experiment


def test_planted_anomaly_days_are_flagged(sample_run: SampleRun):
    flagged = {
        (str(day), kpi)
        for day, kpi in sample_run.query(
            "SELECT business_date, kpi FROM marts.kpi_anomalies WHERE is_anomaly"
        )
    }
    checked = 0
    for anomaly in sample_run.manifest["planted"]["anomalies"]:
        for kpi in MONITORED.intersection(anomaly["kpis"]):
            assert (anomaly["date"], kpi) in flagged, anomaly
            checked += 1
    assert checked >= 2


def test_few_ordinary_days_are_flagged_on_volume_kpis(sample_run: SampleRun):
    planted_days = {a["date"] for a in sample_run.manifest["planted"]["anomalies"]}
    evaluated, false_flags = sample_run.query(
        "SELECT count(*), count(*) FILTER (WHERE is_anomaly) FROM marts.kpi_anomalies "
        "WHERE z_score IS NOT NULL AND kpi IN ('gmv', 'paid_orders', 'session_conversion_rate') "
        f"AND CAST(business_date AS VARCHAR) NOT IN ({', '.join(repr(d) for d in planted_days)})"
    )[0]
    assert evaluated > 0
    assert false_flags / evaluated <= FALSE_FLAG_SHARE_MAX, (false_flags, evaluated)


def test_planted_campaign_lifts_gmv_and_orders(sample_run: SampleRun):
    campaign = sample_run.manifest["planted"]["campaign_lift"]["campaign_id"]
    lift = dict(
        sample_run.query(
            f"SELECT metric, rel_change FROM marts.campaign_lift WHERE campaign_id = '{campaign}'"
        )
    )
    assert lift["gmv"] > 0
    assert lift["paid_orders"] > 0


def test_segment_counts_add_up_to_the_customer_count(sample_run: SampleRun):
    customers = sample_run.query("SELECT count(*) FROM marts.customer_snapshot")[0][0]
    assert customers > 0
    by_dimension = dict(
        sample_run.query(
            "SELECT dimension, sum(customers) FROM marts.segment_summary GROUP BY dimension"
        )
    )
    assert by_dimension == {
        "rfm_segment": customers,
        "lifecycle_stage": customers,
        "member_tier": customers,
    }
