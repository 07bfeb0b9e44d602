"""Daily runs versus one full build, through the real pipeline (CLI code path, real Dagster).

Path A, as a shop runs it: load the landing without its last three days, then the late days
arrive and one earlier day is re-delivered with changes; each is loaded by a range run. Path B:
one run over the final landing into an empty warehouse. Every mart must be identical, and a
re-run of a range must change nothing.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import cli
from orchestration.partitions import DateRange
from orchestration.sample import generate
from tests.conftest import mart_rows

START = date(2025, 3, 3)
DAYS = 35
LAST = START + timedelta(days=DAYS - 1)
LATE = [LAST - timedelta(days=n) for n in (2, 1, 0)]
REDELIVERED = START + timedelta(days=10)


def _run(monkeypatch, root: Path, landing: Path, name: str, dates: DateRange) -> cli.RunReport:
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monkeypatch.setenv("WAREHOUSE_PATH", str(root / f"{name}.duckdb"))
    monkeypatch.setenv("SERVING_DIR", str(root / f"serving_{name}"))
    monkeypatch.delenv("DBT_VARS", raising=False)
    home = root / f"dagster_{name}"
    home.mkdir(exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        report = cli.run_pipeline(instance=instance, dates=dates)
    assert report.ok, (report.failed_steps, report.failed_checks)
    return report


def _redeliver_orders(landing: Path) -> int:
    """Re-deliver REDELIVERED's orders with every paid order cancelled; returns how many."""
    changed = 0
    for path in sorted((landing / "orders" / f"dt={REDELIVERED.isoformat()}").iterdir()):
        assert path.suffix == ".csv", path  # the sample writes orders as plain CSV
        rows = duckdb.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true)")
        changed += duckdb.sql("SELECT count(*) FROM rows WHERE status = 'paid'").fetchall()[0][0]
        select = ", ".join(
            "CASE WHEN status = 'paid' THEN 'cancelled' ELSE status END AS status"
            if c == "status"
            else f'"{c}"'
            for c in rows.columns
        )
        duckdb.sql(f"SELECT {select} FROM rows").write_csv(str(path) + ".tmp", header=True)
        Path(str(path) + ".tmp").replace(path)
    return changed


def test_daily_runs_equal_one_full_build(tmp_path, monkeypatch):
    full = tmp_path / "landing_full"
    generate(full, scale=0.002, seed=11, days=DAYS, start=START)
    daily = tmp_path / "landing_daily"
    shutil.copytree(full, daily)
    held = tmp_path / "held"
    for feed_dir in daily.iterdir():
        if not feed_dir.is_dir():
            continue
        for day in LATE:
            part = feed_dir / f"dt={day.isoformat()}"
            if part.exists():
                (held / feed_dir.name).mkdir(parents=True, exist_ok=True)
                shutil.move(part, held / feed_dir.name / part.name)

    # Path A: the first 25 days, then the late days, then the re-delivery.
    _run(monkeypatch, tmp_path, daily, "daily", DateRange(START, LATE[0] - timedelta(days=1)))
    for feed_dir in held.iterdir():
        for part in feed_dir.iterdir():
            shutil.move(part, daily / feed_dir.name / part.name)
    _run(monkeypatch, tmp_path, daily, "daily", DateRange(LATE[0], LATE[-1]))
    assert _redeliver_orders(daily) > 0
    _redeliver_orders(full)  # the final landing holds the re-delivered version too
    _run(monkeypatch, tmp_path, daily, "daily", DateRange(REDELIVERED, REDELIVERED))
    after_daily = mart_rows(tmp_path / "daily.duckdb")

    # Re-running a range changes nothing: no raw row moves, every mart stays.
    _run(monkeypatch, tmp_path, daily, "daily", DateRange(REDELIVERED, LATE[-1]))
    again = mart_rows(tmp_path / "daily.duckdb")
    assert all(_same_rows(again[name], rows) for name, rows in after_daily.items())
    with duckdb.connect(str(tmp_path / "daily.duckdb"), read_only=True) as conn:
        replaced = conn.execute(
            "SELECT count(*), count(DISTINCT _replaced_by) FROM raw_replaced.orders"
        ).fetchone()
    assert replaced[0] > 0 and replaced[1] == 1  # only the re-delivery replaced rows

    # Path B: everything at once.
    _run(monkeypatch, tmp_path, full, "full", DateRange(START, LAST))
    after_full = mart_rows(tmp_path / "full.duckdb")

    assert after_daily.keys() == after_full.keys()
    assert len(after_full) == 41  # the 40 dbt marts and churn_risk
    for name in after_full:
        assert _same_rows(after_daily[name], after_full[name]), name


def _same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal rows; doubles to 1e-9 relative (a sum's last bit depends on the order of its rows,
    e.g. gmv_forecast's backtest_mape). Money is DECIMAL and compared exactly."""
    if len(left) != len(right):
        return False
    for a_row, b_row in zip(left, right, strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif a != b:
                return False
    return True
