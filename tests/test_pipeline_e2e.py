"""End to end: a tiny generated sample → every asset and check in a real Dagster instance.

Then a tenth of the payments is corrupted (negative amounts): ingest quarantines those rows, the
share is above QUARANTINE_MAX_SHARE, so the blocking quarantine check on raw/payments must fail,
stop dbt and the publish, and leave the marts (working and published) exactly as they were.
"""

from __future__ import annotations

import shutil

import pyarrow.compute as pc
import pyarrow.parquet as pq
from conftest import SAMPLE_DAYS, SAMPLE_START, SampleRun

from orchestration.cli import run_pipeline
from orchestration.progress import STAGES, stage_of_step


def test_every_asset_and_check_succeeds(sample_run: SampleRun):
    report = sample_run.report
    assert report.ok, (report.failed_steps, report.failed_checks)
    assert not report.skipped_steps
    assert report.checks_passed > 0
    assert set(STAGES) <= {stage_of_step(step) for step in report.step_seconds}


def test_raw_tables_hold_every_delivered_row(sample_run: SampleRun):
    for feed, delivered in sample_run.manifest["rows"].items():
        loaded, quarantined = sample_run.query(
            f"SELECT (SELECT count(*) FROM raw.{feed}), "
            f"(SELECT count(*) FROM raw_quarantine.{feed})"
        )[0]
        assert quarantined == 0, feed
        assert 0 < loaded <= delivered, feed  # re-deliveries collapse onto their key


def test_daily_marts_have_one_row_per_day_of_the_sample(sample_run: SampleRun):
    for mart in ("daily_sales", "daily_traffic"):
        days, distinct_days, first, last = sample_run.query(
            f"SELECT count(*), count(DISTINCT business_date), min(business_date), "
            f"max(business_date) FROM marts.{mart}"
        )[0]
        assert days == distinct_days == (last - first).days + 1, mart
        # the sample spans SAMPLE_DAYS local days; a session crossing the last midnight may add one
        assert SAMPLE_DAYS <= days <= SAMPLE_DAYS + 1, mart
        assert first == SAMPLE_START, mart


def test_marts_are_published(sample_run: SampleRun):
    published = sample_run.query(
        "SELECT count(*) FROM marts.daily_sales", db=sample_run.serving / "serving.duckdb"
    )[0][0]
    assert published == sample_run.query("SELECT count(*) FROM marts.daily_sales")[0][0]
    assert (sample_run.serving / "parquet" / "daily_traffic.parquet").exists()


def test_corrupt_batch_is_blocked_and_marts_keep_their_contents(sample_run: SampleRun, tmp_path):
    serving_db = sample_run.serving / "serving.duckdb"
    before = sample_run.query("SELECT * FROM marts.daily_sales ORDER BY business_date")
    published_before = serving_db.read_bytes()
    # Copy the landing and corrupt every tenth day of payments: negative amounts break a row rule,
    # so ~10% of the rows are quarantined, far above the default max share of 1%.
    landing = tmp_path / "landing"
    shutil.copytree(sample_run.landing, landing)
    corrupted = 0
    for part in sorted((landing / "payments").glob("dt=*"))[::10]:
        for file in part.glob("*.parquet"):
            table = pq.read_table(file)
            negative = pc.negate(pc.abs(table.column("amount")))
            idx = table.schema.get_field_index("amount")
            pq.write_table(table.set_column(idx, table.schema.field(idx), negative), file)
            corrupted += pc.sum(pc.greater(table.column("amount"), 0)).as_py()
    sample_run.monkeypatch.setenv("LANDING_DIR", str(landing))
    sample_run.monkeypatch.delenv("QUARANTINE_MAX_SHARE", raising=False)
    try:
        report = run_pipeline(instance=sample_run.instance)
    finally:
        sample_run.monkeypatch.setenv("LANDING_DIR", str(sample_run.landing))
    assert not report.ok
    assert "raw/payments:quarantine_share" in report.failed_checks
    quarantined, loaded = sample_run.query(
        "SELECT (SELECT count(*) FROM raw_quarantine.payments), (SELECT count(*) FROM raw.payments)"
    )[0]
    assert quarantined == corrupted > 0.01 * (quarantined + loaded)
    assert sample_run.query("SELECT count(*) FROM raw.payments WHERE amount < 0") == [(0,)]
    assert "dbt_models" not in report.step_seconds  # dbt never ran
    assert "serving__marts" not in report.step_seconds  # nor the publish
    assert sample_run.query("SELECT * FROM marts.daily_sales ORDER BY business_date") == before
    assert serving_db.read_bytes() == published_before
