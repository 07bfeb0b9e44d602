"""`python -m orchestration.validate_landing` on a landing with one planted problem of each kind."""

# The landing is a copy of tests/fixtures/handwritten_landing plus these plants (each must be
# listed, in the terminal table and in the `--json` report):
#
# | plant | file | expected |
# |---|---|---|
# | missing column | orders/dt=2025-03-04/orders_no_platform.csv | error missing_column (rejected) |
# | extra column | products/dt=2025-02-20/products.csv + `color` | warning extra_column |
# | unparsable value | payments pay5 amount `12,50` | warning quarantine "cannot parse" |
# | bad domain value | orders o5 status `teleported` | warning quarantine "not in (created, …)" |
# | file outside dt= layout | customers/2025-03-05/customers.csv | error layout |
# | corrupt gzip | reviews/dt=2025-03-04/reviews.csv.gz, cut in the middle | error unreadable |
# | same key and updated_ts, other row | o3 again in dt=2025-03-04, shipping 7 | warning conflict |
# | delivered feed without files | tickets configured, folder removed | error undelivered |
# | feed not delivered | surveys neither configured nor landed | info, status "not delivered" |
# | files of an unconfigured feed | campaigns landed, not configured | warning unconfigured |
#
# Nothing may be written: WAREHOUSE_PATH points at a file that must not exist afterwards.

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import settings
from orchestration.contract import FEEDS

FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_landing"
ORDERS_HEADER = (
    "order_id,customer_id,order_ts,platform,status,coupon_code,discount_amount,shipping_fee,"
    "promised_delivery_date,shipped_ts,delivered_ts,cancelled_ts,updated_ts"
)


def plant(root: Path) -> None:
    shutil.copytree(FIXTURE, root)
    new = root / "orders" / "dt=2025-03-04"
    new.mkdir()
    # missing column: no `platform`
    (new / "orders_no_platform.csv").write_text(
        ORDERS_HEADER.replace("platform,", "")
        + "\no6,c1,2025-03-04 10:00:00,paid,,0.00,0.00,,,,,2025-03-04 10:00:00\n"
    )
    # bad domain value (o5) and a conflicting re-delivery of o3 (same updated_ts, shipping 7.00)
    (new / "orders.csv").write_text(
        ORDERS_HEADER + "\n"
        "o5,c1,2025-03-04 11:00:00,web,teleported,,0.00,0.00,,,,,2025-03-04 11:00:00\n"
        "o3,c1,2025-03-02 09:00:00,web,paid,SAVE10,10.00,7.00,2025-03-05,,,,2025-03-02 09:05:00\n"
    )
    products = root / "products" / "dt=2025-02-20" / "products.csv"
    lines = products.read_text().splitlines()
    products.write_text(
        "\n".join([lines[0] + ",color"] + [line + ",red" for line in lines[1:]]) + "\n"
    )
    payments = root / "payments" / "dt=2025-03-02" / "payments.csv"
    payments.write_text(payments.read_text() + 'pay5,o3,2025-03-02 09:06:00,card,"12,50",success\n')
    outside = root / "customers" / "2025-03-05"
    outside.mkdir()
    shutil.copy(root / "customers" / "dt=2025-03-01" / "customers.csv", outside)
    good = (root / "reviews" / "dt=2025-03-03" / "reviews.csv").read_text()
    body = good + "".join(f"rv{i},o1,p1,c1,4,fine,2025-03-03 18:00:00\n" for i in range(100, 3000))
    compressed = gzip.compress(body.encode())
    (root / "reviews" / "dt=2025-03-04").mkdir()
    (root / "reviews" / "dt=2025-03-04" / "reviews.csv.gz").write_bytes(
        compressed[: len(compressed) // 2]
    )
    shutil.rmtree(root / "tickets")
    shutil.rmtree(root / "surveys")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    tmp = tmp_path_factory.mktemp("validate")
    root = tmp / "landing"
    plant(root)
    config = tmp / "warehouse.yaml"
    configured = [f for f in FEEDS if f not in ("surveys", "campaigns")]
    config.write_text(f"feeds: {configured}\n")
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp / "must_not_exist.duckdb")}
    env.pop("WAREHOUSE_CONFIG", None)
    runs = {}
    for mode in ("json", "table"):
        args = [str(root), "--config", str(config)] + (["--json"] if mode == "json" else [])
        runs[mode] = subprocess.run(
            [sys.executable, "-m", "orchestration.validate_landing", *args],
            cwd=settings.REPO_ROOT,
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert not (tmp / "must_not_exist.duckdb").exists()
    return root, tmp, runs


def problems(report: dict, kind: str, feed: str) -> list[dict]:
    return [p for p in report["problems"] if p["kind"] == kind and p["feed"] == feed]


def test_json_report_lists_every_planted_problem(planted) -> None:
    _, _, runs = planted
    run = runs["json"]
    assert run.returncode == 2, run.stderr
    report = json.loads(run.stdout)
    assert report["exit_code"] == 2
    feeds = report["feeds"]

    (missing,) = problems(report, "missing_column", "orders")
    assert missing["severity"] == "error"
    assert missing["file"] == "orders/dt=2025-03-04/orders_no_platform.csv"
    assert "missing required column(s) platform" in missing["message"]
    assert feeds["orders"]["missing_columns"] == {missing["file"]: ["platform"]}

    (extra,) = problems(report, "extra_column", "products")
    assert (extra["severity"], extra["file"]) == ("warning", "products/dt=2025-02-20/products.csv")
    assert feeds["products"]["extra_columns"] == {extra["file"]: ["color"]}

    assert feeds["payments"]["rows_quarantined"] == 1
    (bad_amount,) = problems(report, "quarantine", "payments")
    assert "amount: cannot parse '12,50' as DECIMAL(18,2)" in bad_amount["message"]
    assert bad_amount["file"] == "payments/dt=2025-03-02/payments.csv"

    assert feeds["orders"]["rows_quarantined"] == 1
    (bad_status,) = problems(report, "quarantine", "orders")
    assert "status: 'teleported' not in (created, paid" in bad_status["message"]

    (layout,) = problems(report, "layout", "customers")
    assert (layout["severity"], layout["file"]) == ("error", "customers/2025-03-05")
    assert "dt=YYYY-MM-DD" in layout["message"]

    (gz,) = problems(report, "unreadable", "reviews")
    assert (gz["severity"], gz["file"]) == ("error", "reviews/dt=2025-03-04/reviews.csv.gz")
    assert feeds["reviews"]["rejected_files"] == 1
    assert feeds["reviews"]["rows"] == 1  # the good file still counted

    (conflict,) = problems(report, "conflict", "orders")
    assert "order_id=o3" in conflict["message"] and "2025-03-02 09:05:00" in conflict["message"]
    assert feeds["orders"]["conflicting_keys"] == 1
    assert feeds["orders"]["conflict_examples"][0]["files"] == [
        "orders/dt=2025-03-02/orders.csv",
        "orders/dt=2025-03-04/orders.csv",
    ]
    # o1, o2 (legitimate updates) and o3 are delivered more than once
    assert feeds["orders"]["keys_delivered_more_than_once"] == 3

    (tickets,) = problems(report, "undelivered", "tickets")
    assert tickets["severity"] == "error" and feeds["tickets"]["status"] == "missing"
    (surveys,) = problems(report, "undelivered", "surveys")
    assert surveys["severity"] == "info" and feeds["surveys"]["status"] == "not delivered"
    (campaigns,) = problems(report, "unconfigured", "campaigns")
    assert campaigns["severity"] == "warning" and feeds["campaigns"]["status"] == "unconfigured"

    assert feeds["orders"]["status"] == "rejected"
    assert feeds["orders"]["files_by_format"] == {"csv": 5}
    assert (feeds["orders"]["first_dt"], feeds["orders"]["last_dt"]) == (
        "2025-03-01",
        "2025-03-04",
    )
    assert feeds["events"]["status"] == "ok"


def test_terminal_table_names_each_problem(planted) -> None:
    _, _, runs = planted
    run = runs["table"]
    assert run.returncode == 2, run.stderr
    out = run.stdout
    for needle in (
        "orders_no_platform.csv",
        "missing required column(s) platform",
        "color",
        "12,50",
        "teleported",
        "customers/2025-03-05",
        "reviews.csv.gz",
        "order_id=o3",
        "tickets",
        "unconfigured",
        "not delivered",
        "files would be rejected",
    ):
        assert needle in out, needle


def test_clean_landing_exits_0_and_bad_config_exits_1(tmp_path) -> None:
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_CONFIG"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "orchestration.validate_landing", str(root), *args],
            cwd=settings.REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    clean = run("--json")
    assert clean.returncode == 0, clean.stdout[-3000:]
    report = json.loads(clean.stdout)
    assert [p for p in report["problems"] if p["severity"] == "error"] == []
    assert {f: r["rows"] for f, r in report["feeds"].items()}["orders"] == 6
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [orders, clicks]\n")
    broken = run("--config", str(bad))
    assert broken.returncode == 1
    assert "unknown feed(s) ['clicks']" in broken.stderr
