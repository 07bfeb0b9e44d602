"""The GX suites as Dagster checks: a real DuckDB file, real `dg.materialize`, the real suite.

Two toy assets stand in for the pipeline: `raw/orders` writes the table with the contract's
columns, `order_report` depends on it. The raw.orders suite in expectations/ gates them.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from orchestration.checks.gx_checks import GreatExpectationsResource, build_gx_checks, docs_metadata
from orchestration.contract import FEEDS, raw_table_ddl
from orchestration.resources import WarehouseResource
from orchestration.settings import EXPECTATIONS_DIR

ORDERS = dg.AssetKey(["raw", "orders"])
CRITICAL = "raw_orders_critical"
WARNING = "raw_orders_warning"

GOOD_ROWS = [
    # order_id, customer_id, order_ts, status, discount_amount, shipping_fee, shipped_ts
    ("o1", "c1", "2024-03-01 10:00:00", "paid", 0, 5, None),
    ("o2", "c2", "2024-03-01 11:00:00", "shipped", 3, 0, "2024-03-02 08:00:00"),
    ("o3", "c1", "2024-03-02 09:30:00", "cancelled", 0, 5, None),
]


def _toy_assets(rows: Sequence[tuple[Any, ...]] | None) -> list[dg.AssetsDefinition]:
    """`raw/orders` writing `rows` (None: writes no table), and a downstream report."""

    @dg.asset(key=ORDERS)
    def raw_orders(warehouse: WarehouseResource) -> None:
        if rows is None:
            return
        with warehouse.connect() as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
            conn.execute(raw_table_ddl(FEEDS["orders"]))
            conn.executemany(
                "INSERT INTO raw.orders (order_id, customer_id, order_ts, status, "
                "discount_amount, shipping_fee, shipped_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                list(rows),
            )

    @dg.asset(deps=[ORDERS])
    def order_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as conn:
            (count,) = conn.execute("SELECT count(*) FROM raw.orders").fetchone()
        return dg.MaterializeResult(metadata={"orders": count})

    return [raw_orders, order_report]


def _run(
    tmp_path: Path, rows: Sequence[tuple[Any, ...]] | None, backend: str = "pandas"
) -> dg.ExecuteInProcessResult:
    checks = build_gx_checks(asset_keys={ORDERS}, backend=backend)
    return dg.materialize(
        [*_toy_assets(rows), *checks],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
            "gx": GreatExpectationsResource(docs_dir=str(tmp_path / "docs")),
        },
        raise_on_error=False,
    )


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def _meta(evaluation: dg.AssetCheckEvaluation, key: str) -> Any:
    return evaluation.metadata[key].value


def _linked_page(evaluation: dg.AssetCheckEvaluation, key: str) -> Path:
    """The file a `file://` URL in the metadata points at."""
    url = urllib.parse.urlparse(_meta(evaluation, key))
    assert url.scheme == "file", url
    return Path(urllib.request.url2pathname(url.path))


def test_build_gx_checks_one_op_per_suite_with_blocking_critical_check() -> None:
    (checks,) = build_gx_checks(asset_keys={ORDERS})
    specs = {spec.name: spec for spec in checks.check_specs}
    assert set(specs) == {CRITICAL, WARNING}
    assert specs[CRITICAL].blocking and not specs[WARNING].blocking
    assert all(spec.asset_key == ORDERS for spec in specs.values())
    assert "raw.orders" in (specs[CRITICAL].description or "")
    assert {"warehouse", "gx"} <= checks.required_resource_keys


def test_build_gx_checks_skips_suites_of_unknown_assets() -> None:
    assert build_gx_checks(asset_keys=set()) == []


def test_dbt_mart_suites_share_one_step_and_other_suites_keep_one_each() -> None:
    from orchestration.assets.dbt import build_dbt_assets

    dbt_keys = set(build_dbt_assets().keys)
    suites = {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    marts = {s for s in suites if dg.AssetKey(s.split(".")) in dbt_keys}
    assert marts and all(s.startswith("marts.") for s in marts)
    checks = {c.node_def.name: c for c in build_gx_checks()}
    others = {f"gx_{s.replace('.', '__')}" for s in suites - marts}  # raw feeds, Python marts
    assert set(checks) == {"gx_dbt_models"} | others
    specs = list(checks["gx_dbt_models"].check_specs)
    # Same check names, keys and blocking flags as one step per suite gave.
    assert {s.asset_key for s in specs} == {dg.AssetKey(s.split(".")) for s in marts}
    for spec in specs:
        schema, table = spec.asset_key.path
        assert spec.name in (f"{schema}_{table}_critical", f"{schema}_{table}_warning")
        assert spec.blocking == spec.name.endswith("_critical")
    assert {s.name for s in specs if s.blocking} == {
        f"{s.replace('.', '_')}_critical" for s in marts
    }


def test_build_gx_checks_names_a_malformed_suite(tmp_path: Path) -> None:
    (tmp_path / "raw.orders.json").write_text(
        json.dumps({"name": "raw.orders", "expectations": [{"type": "expect_x", "kwargs": {}}]})
    )
    with pytest.raises(ValueError, match=r"raw\.orders\.json.*meta\.severity"):
        build_gx_checks(suite_dir=tmp_path)


def test_good_data_passes_and_downstream_materializes(tmp_path: Path) -> None:
    result = _run(tmp_path, GOOD_ROWS)

    assert result.success
    evaluations = _evaluations(result)
    assert evaluations[CRITICAL].passed and evaluations[WARNING].passed
    assert _meta(evaluations[CRITICAL], "row_count") == 3
    assert _meta(evaluations[CRITICAL], "failed_expectations") == 0
    assert _meta(evaluations[CRITICAL], "suite") == "raw.orders"
    assert _materialized(result) == {ORDERS, dg.AssetKey("order_report")}


def test_check_links_the_data_docs_page_of_its_validation(tmp_path: Path) -> None:
    result = _run(tmp_path, GOOD_ROWS)

    docs = tmp_path / "docs"
    pages = {_linked_page(e, "data_docs") for e in _evaluations(result).values()}
    (page,) = pages  # both checks judged one validation
    assert page.is_relative_to(docs / "validations" / "raw" / "orders" / result.run_id)
    for evaluation in _evaluations(result).values():
        assert _meta(evaluation, "data_docs_index") == (docs / "index.html").as_uri()
        assert _meta(evaluation, "data_docs_path") == str(page)
    assert "order_id" in page.read_text(encoding="utf-8")
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert page.relative_to(docs).as_posix() in index
    assert (docs / "static" / "styles").is_dir()  # the pages' stylesheets


def test_failed_check_page_shows_the_bad_values(tmp_path: Path) -> None:
    bad_rows = [*GOOD_ROWS, ("o5", "c3", "2024-03-03 11:00:00", "teleported", 0, 5, None)]
    result = _run(tmp_path, bad_rows)

    page = _linked_page(_evaluations(result)[CRITICAL], "data_docs")
    assert "teleported" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_critical_failure_blocks_downstream_and_names_the_bad_values(
    tmp_path: Path, backend: str
) -> None:
    bad_rows = [
        *GOOD_ROWS,
        (None, "c3", "2024-03-03 10:00:00", "paid", 0, 5, None),  # null key
        ("o5", "c3", "2024-03-03 11:00:00", "teleported", 0, 5, None),  # status outside domain
    ]
    result = _run(tmp_path, bad_rows, backend)

    assert not result.success
    critical = _evaluations(result)[CRITICAL]
    assert not critical.passed
    assert critical.severity == dg.AssetCheckSeverity.ERROR
    assert critical.blocking
    # The message names the expectations and the bad values, in the description and metadata.
    assert "expect_column_values_to_not_be_null(order_id)" in (critical.description or "")
    assert '"teleported"' in (critical.description or "")
    records = {r["label"]: r for r in _meta(critical, "failures_json")}
    assert records["expect_column_values_to_be_in_set(status)"]["values"] == ["teleported"]
    assert records["expect_column_values_to_not_be_null(order_id)"]["unexpected_count"] == 1
    assert _meta(critical, "failed_expectations") == 2
    assert sorted(_meta(critical, "failed_expectation_names")) == sorted(records)
    assert _meta(critical, "evaluated_expectations") > 2  # the sensor's alert reads these
    assert _meta(critical, "backend") == backend
    # raw/orders itself materialized; the downstream asset was blocked.
    assert _materialized(result) == {ORDERS}
    assert result.get_failed_step_keys() == {"gx_raw__orders"}  # the gate, not the report
    assert not result.is_node_success("order_report")


def test_warning_failure_is_reported_but_does_not_block(tmp_path: Path) -> None:
    rows = [
        *GOOD_ROWS,
        # Shipped an hour before it was ordered: a warning rule (clock skew), not bad data.
        ("o4", "c2", "2024-03-03 10:00:00", "shipped", 0, 5, "2024-03-03 09:00:00"),
    ]
    result = _run(tmp_path, rows)

    assert result.success
    evaluations = _evaluations(result)
    assert evaluations[CRITICAL].passed
    warning = evaluations[WARNING]
    assert not warning.passed
    assert warning.severity == dg.AssetCheckSeverity.WARN
    assert "(shipped_ts, order_ts)" in (warning.description or "")
    assert "2024-03-03T09:00:00" in json.dumps(_meta(warning, "failures_json"))
    assert _materialized(result) == {ORDERS, dg.AssetKey("order_report")}


def test_missing_table_fails_the_critical_check(tmp_path: Path) -> None:
    result = _run(tmp_path, rows=None)

    evaluations = _evaluations(result)
    assert set(evaluations) == {CRITICAL}  # the warning check was not evaluated
    assert not evaluations[CRITICAL].passed
    assert "Suite `raw.orders` not evaluated: Catalog Error" in evaluations[CRITICAL].description
    assert not result.is_node_success("order_report")


# --------------------------------------------------------------------------------------------
# Several suites in one step: the assets of one multi-asset op
# --------------------------------------------------------------------------------------------

MART_A = dg.AssetKey(["marts", "toy_a"])
MART_B = dg.AssetKey(["marts", "toy_b"])


def _mart_suite(dir_: Path, table: str, max_value: int) -> None:
    """A suite with one critical (`n <= max_value`) and one warning expectation."""
    expectations = [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "n", "min_value": 0, "max_value": max_value},
            "meta": {"severity": "critical"},
        },
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "n"},
            "meta": {"severity": "warning"},
        },
    ]
    (dir_ / f"marts.{table}.json").write_text(
        json.dumps({"name": f"marts.{table}", "expectations": expectations})
    )


def _run_marts(tmp_path: Path, *, a_max: int, backend: str = "sql") -> dg.ExecuteInProcessResult:
    """Two marts written by ONE multi-asset op, a publish asset downstream of both."""
    suite_dir = tmp_path / "suites"
    suite_dir.mkdir()
    _mart_suite(suite_dir, "toy_a", a_max)
    _mart_suite(suite_dir, "toy_b", 100)

    @dg.multi_asset(specs=[dg.AssetSpec(MART_A), dg.AssetSpec(MART_B)], name="toy_dbt")
    def toy_dbt(warehouse: WarehouseResource) -> Any:
        with warehouse.connect() as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
            conn.execute("CREATE OR REPLACE TABLE marts.toy_a AS SELECT range AS n FROM range(5)")
            conn.execute("CREATE OR REPLACE TABLE marts.toy_b AS SELECT range AS n FROM range(3)")
        yield dg.MaterializeResult(asset_key=MART_A)
        yield dg.MaterializeResult(asset_key=MART_B)

    @dg.asset(key=["serving", "marts"], deps=[MART_A, MART_B])
    def publish() -> None:
        pass

    checks = build_gx_checks(suite_dir, backend=backend, shared_ops=[toy_dbt])
    assert [c.node_def.name for c in checks] == ["gx_toy_dbt"]
    return dg.materialize(
        [toy_dbt, publish, *checks],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
            "gx": GreatExpectationsResource(docs_dir=str(tmp_path / "docs")),
        },
        raise_on_error=False,
    )


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_one_step_checks_every_mart_of_the_op(tmp_path: Path, backend: str) -> None:
    result = _run_marts(tmp_path, a_max=100, backend=backend)

    assert result.success
    evaluations = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        (MART_A, "marts_toy_a_critical"),
        (MART_A, "marts_toy_a_warning"),
        (MART_B, "marts_toy_b_critical"),
        (MART_B, "marts_toy_b_warning"),
    }
    assert all(e.passed for e in evaluations.values())
    a = evaluations[(MART_A, "marts_toy_a_critical")]
    assert (_meta(a, "suite"), _meta(a, "row_count"), _meta(a, "backend")) == (
        "marts.toy_a",
        5,
        backend,
    )
    assert _meta(evaluations[(MART_B, "marts_toy_b_critical")], "row_count") == 3
    assert "/validations/marts/toy_a/" in _meta(a, "data_docs")
    assert dg.AssetKey(["serving", "marts"]) in _materialized(result)


def test_failed_mart_in_the_shared_step_blocks_publish(tmp_path: Path) -> None:
    result = _run_marts(tmp_path, a_max=2)  # toy_a holds 0..4: two values above 2

    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations["marts_toy_a_critical"]
    assert not failed.passed and failed.blocking
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert _meta(failed, "failed_expectations") == 1
    assert "expect_column_values_to_be_between(n)" in (failed.description or "")
    assert _meta(failed, "failures_json")[0]["values"] == [3, 4]
    # The other mart's checks were still evaluated and reported in the same step.
    assert evaluations["marts_toy_b_critical"].passed
    assert evaluations["marts_toy_a_warning"].passed
    assert result.get_failed_step_keys() == {"gx_toy_dbt"}
    assert dg.AssetKey(["serving", "marts"]) not in _materialized(result)
    assert not result.is_node_success("serving__marts")


def test_a_missing_mart_fails_its_own_critical_check_only(tmp_path: Path) -> None:
    suite_dir = tmp_path / "suites"
    suite_dir.mkdir()
    _mart_suite(suite_dir, "toy_a", 100)
    _mart_suite(suite_dir, "toy_missing", 100)

    @dg.multi_asset(
        specs=[dg.AssetSpec(MART_A), dg.AssetSpec(["marts", "toy_missing"])], name="toy_dbt"
    )
    def toy_dbt(warehouse: WarehouseResource) -> Any:
        with warehouse.connect() as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
            conn.execute("CREATE OR REPLACE TABLE marts.toy_a AS SELECT range AS n FROM range(5)")
        yield dg.MaterializeResult(asset_key=MART_A)
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["marts", "toy_missing"]))

    result = dg.materialize(
        [toy_dbt, *build_gx_checks(suite_dir, backend="sql", shared_ops=[toy_dbt])],
        resources={
            "warehouse": WarehouseResource(path=str(tmp_path / "wh.duckdb")),
            "gx": GreatExpectationsResource(docs_dir=""),
        },
        raise_on_error=False,
    )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        "marts_toy_a_critical",
        "marts_toy_a_warning",
        "marts_toy_missing_critical",
    }
    assert evaluations["marts_toy_a_critical"].passed
    missing = evaluations["marts_toy_missing_critical"]
    assert not missing.passed
    assert "Suite `marts.toy_missing` not evaluated: Catalog Error" in missing.description


# --------------------------------------------------------------------------------------------
# Partition-range runs: the real ingest asset loads dt partitions of raw.orders
# --------------------------------------------------------------------------------------------

ORDER_HEADER = (
    "order_id,customer_id,order_ts,platform,status,coupon_code,discount_amount,shipping_fee,"
    "promised_delivery_date,shipped_ts,delivered_ts,cancelled_ts,updated_ts"
)
RANGE_SUITE_EXTRA = [
    # Stricter than the contract (which only wants fee >= 0): a fee the loader accepts can fail.
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "shipping_fee", "max_value": 50},
        "meta": {"severity": "critical"},
    },
    # Table-level: judged on every row in every run.
    {
        "type": "expect_table_row_count_to_be_between",
        "kwargs": {"max_value": 4},
        "meta": {"severity": "warning"},
    },
    {
        "type": "expect_column_distinct_values_to_contain_set",
        "kwargs": {"column": "status", "value_set": ["cancelled"]},
        "meta": {"severity": "warning"},
    },
]


def _order(order_id: str, dt: str, *, fee: int = 5, status: str = "paid") -> str:
    return f"{order_id},c1,{dt} 09:00:00,web,{status},,0,{fee},,,,,{dt} 10:00:00"


class RangeRuns:
    """raw/orders (the real ingest asset, daily partitions) with the raw.orders suite plus
    RANGE_SUITE_EXTRA as checks, and a report downstream; every run in ONE Dagster instance, so
    each check sees the evaluations of the runs before it."""

    def __init__(self, tmp_path: Path, backend: str) -> None:
        from orchestration.assets.ingest import LandingResource, build_ingest_asset

        self.landing = tmp_path / "landing"
        self.db = tmp_path / "wh.duckdb"
        self.suite_dir = tmp_path / "suites"
        self.suite_dir.mkdir()
        suite = json.loads((EXPECTATIONS_DIR / "raw.orders.json").read_text())
        suite["expectations"] += RANGE_SUITE_EXTRA
        self.write_suite(suite)
        self.instance = dg.DagsterInstance.ephemeral()
        self.backend = backend

        @dg.asset(deps=[ORDERS])
        def order_report() -> None:
            pass

        self.assets = [build_ingest_asset(FEEDS["orders"]), order_report]
        self.resources = {
            "landing": LandingResource(root=str(self.landing)),
            "warehouse": WarehouseResource(path=str(self.db)),
            "gx": GreatExpectationsResource(docs_dir=str(tmp_path / "docs")),
        }

    def write_suite(self, suite: dict[str, Any]) -> None:
        (self.suite_dir / "raw.orders.json").write_text(json.dumps(suite))

    def deliver(self, dt: str, *lines: str) -> None:
        folder = self.landing / "orders" / f"dt={dt}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "orders.csv").write_text(ORDER_HEADER + "\n" + "\n".join(lines) + "\n")

    def run(self, first: str, last: str | None = None) -> dg.ExecuteInProcessResult:
        """A run of the range `first`..`last` (range tags, as the CLI and the sensor start), or
        without `last` of the one partition `first` (a partition key, as the UI starts)."""
        from datetime import date

        from orchestration.partitions import DateRange

        checks = build_gx_checks(self.suite_dir, backend=self.backend, shared_ops=[])
        dates = {}
        if last is not None:
            dates["tags"] = DateRange(date.fromisoformat(first), date.fromisoformat(last)).tags()
        else:
            dates["partition_key"] = first
        return dg.materialize(
            [*self.assets, *checks],
            resources=self.resources,
            instance=self.instance,
            raise_on_error=False,
            **dates,
        )

    def plant(self, order_id: str, dt: str, fee: int, loaded_at: str | None) -> None:
        """Write a row straight into raw (no landing file), as loaded at `loaded_at`."""
        import duckdb

        with duckdb.connect(str(self.db)) as conn:
            conn.execute(
                "INSERT INTO raw.orders (order_id, customer_id, order_ts, status, "
                "discount_amount, shipping_fee, _partition_dt, _load_id, _loaded_at) "
                "VALUES (?, 'c1', ?, 'paid', 0, ?, ?, 'planted', ?)",
                [order_id, f"{dt} 09:00:00", fee, dt, loaded_at],
            )


@pytest.fixture(params=["pandas", "sql"])
def range_runs(tmp_path: Path, request: pytest.FixtureRequest) -> RangeRuns:
    runs = RangeRuns(tmp_path, request.param)
    runs.deliver(
        "2025-03-01", _order("o1", "2025-03-01", status="cancelled"), _order("o2", "2025-03-01")
    )
    runs.deliver("2025-03-02", _order("o3", "2025-03-02"), _order("o4", "2025-03-02"))
    first = runs.run("2025-03-01", "2025-03-02")
    assert first.success
    critical = _evaluations(first)[CRITICAL]
    # No earlier evaluation to build on: every row, as without a range.
    assert _meta(critical, "row_scope") == "all rows"
    assert _meta(critical, "scope_reason") == f"no earlier evaluation of {CRITICAL}"
    return runs


def test_a_bad_row_in_the_runs_range_fails_the_critical_check(range_runs: RangeRuns) -> None:
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03", fee=99))
    result = range_runs.run("2025-03-03", "2025-03-03")

    assert not result.success
    critical = _evaluations(result)[CRITICAL]
    assert not critical.passed and critical.severity == dg.AssetCheckSeverity.ERROR
    assert (_meta(critical, "row_scope"), _meta(critical, "rows_in_scope")) == (
        "dt 2025-03-03..2025-03-03",
        1,
    )
    assert _meta(critical, "row_count") == 5
    assert "passed in run" in _meta(critical, "scope_reason")
    description = critical.description or ""
    assert (
        "failed on dt 2025-03-03..2025-03-03: 1 of 5 rows; table-level expectations on all rows"
        in description
    )
    assert (
        "expect_column_values_to_be_between(shipping_fee): 1 unexpected, values [99" in description
    )
    (record,) = _meta(critical, "failures_json")
    assert record["rows"] == "dt 2025-03-03..2025-03-03"
    assert "_partition_dt" in _linked_page(critical, "data_docs").read_text(encoding="utf-8")
    assert _materialized(result) == {ORDERS}  # the report downstream was blocked
    assert not result.is_node_success("order_report")


def test_table_level_expectations_judge_the_whole_table_in_a_one_day_run(
    range_runs: RangeRuns,
) -> None:
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03"))
    result = range_runs.run("2025-03-03")  # one partition key, not a range

    assert result.success  # the warning does not block
    evaluations = _evaluations(result)
    assert evaluations[CRITICAL].passed
    assert "passed on dt 2025-03-03..2025-03-03: 1 of 5 rows; table-level" in (
        evaluations[CRITICAL].description or ""
    )
    warning = evaluations[WARNING]
    records = {r["label"]: r for r in _meta(warning, "failures_json")}
    # 5 rows in the table although the day has 1; the cancelled order of 03-01 still counts.
    assert set(records) == {"expect_table_row_count_to_be_between"}
    assert records["expect_table_row_count_to_be_between"]["observed"] == 5
    assert records["expect_table_row_count_to_be_between"]["rows"] is None  # every row


def test_a_bad_row_outside_the_range_is_judged_by_a_full_range_run_only(
    range_runs: RangeRuns,
) -> None:
    # An earlier state: a bad row of 02-28 (no landing folder, so no run replaces it), loaded
    # before the passing check of the first run.
    range_runs.plant("o0", "2025-02-28", fee=99, loaded_at="2025-02-28 12:00:00")
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03"))
    one_day = range_runs.run("2025-03-03", "2025-03-03")
    assert one_day.success
    critical = _evaluations(one_day)[CRITICAL]
    assert critical.passed
    assert (_meta(critical, "rows_in_scope"), _meta(critical, "row_count")) == (1, 6)

    full = range_runs.run("2025-02-28", "2025-03-03")
    critical = _evaluations(full)[CRITICAL]
    assert not critical.passed
    assert _meta(critical, "row_scope") == "all rows"
    assert (
        _meta(critical, "scope_reason") == "dt 2025-02-28..2025-03-03 holds every row of raw.orders"
    )
    assert "failed on 6 rows" in (critical.description or "")
    assert "values [99" in (critical.description or "")


def test_rows_written_outside_the_range_since_the_last_check_are_judged(
    range_runs: RangeRuns,
) -> None:
    """A row that no passing check has seen (written after it, outside the run's range) makes
    the run judge every row."""
    range_runs.plant("o0", "2025-02-28", fee=99, loaded_at="2999-01-01 00:00:00")
    range_runs.plant("o00", "2025-02-27", fee=98, loaded_at=None)  # not written by the loader
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03"))
    result = range_runs.run("2025-03-03", "2025-03-03")

    critical = _evaluations(result)[CRITICAL]
    assert not critical.passed
    assert _meta(critical, "row_scope") == "all rows"
    assert _meta(critical, "scope_reason").startswith(
        "2 rows outside dt 2025-03-03..2025-03-03 were written after the evaluation"
    )
    assert sorted(_meta(critical, "failures_json")[0]["values"]) == [98, 99]


def test_after_a_failed_check_every_row_is_judged_until_it_passes(range_runs: RangeRuns) -> None:
    """The bad rows of a failed check stay in raw (and in the next dbt batch): the next run
    judges them again even if its range does not include them."""
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03", fee=99))
    assert not range_runs.run("2025-03-03", "2025-03-03").success

    range_runs.deliver("2025-03-04", _order("o6", "2025-03-04"))
    result = range_runs.run("2025-03-04", "2025-03-04")
    critical = _evaluations(result)[CRITICAL]
    assert not critical.passed and _meta(critical, "row_scope") == "all rows"
    assert "failed" in _meta(critical, "scope_reason")
    assert "values [99" in (critical.description or "")
    assert not result.is_node_success("order_report")

    # The fixed re-delivery of 03-03 passes on every row; the next day is judged on its own.
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03", fee=9))
    assert range_runs.run("2025-03-03", "2025-03-03").success
    range_runs.deliver("2025-03-05", _order("o7", "2025-03-05"))
    result = range_runs.run("2025-03-05", "2025-03-05")
    assert result.success
    assert _meta(_evaluations(result)[CRITICAL], "row_scope") == "dt 2025-03-05..2025-03-05"


def test_a_changed_suite_judges_every_row(range_runs: RangeRuns) -> None:
    suite = json.loads((range_runs.suite_dir / "raw.orders.json").read_text())
    suite["expectations"][-3]["kwargs"]["max_value"] = 60
    range_runs.write_suite(suite)
    range_runs.deliver("2025-03-03", _order("o5", "2025-03-03"))
    result = range_runs.run("2025-03-03", "2025-03-03")

    critical = _evaluations(result)[CRITICAL]
    assert critical.passed and _meta(critical, "row_scope") == "all rows"
    assert _meta(critical, "scope_reason").startswith("the suite changed since the evaluation")


def test_data_docs_links_go_to_gx_docs_url(tmp_path: Path, monkeypatch) -> None:
    """Under GX_DOCS_URL (which `make ui` serves) a link is that URL plus the page's path."""
    monkeypatch.setenv("GX_DOCS_URL", "http://127.0.0.1:3100/")
    page = tmp_path / "validations" / "marts" / "daily_sales" / "r1" / "t" / "b.html"
    metadata = docs_metadata(page, tmp_path / "index.html")
    assert metadata["data_docs"].value == (
        "http://127.0.0.1:3100/validations/marts/daily_sales/r1/t/b.html"
    )
    assert metadata["data_docs_index"].value == "http://127.0.0.1:3100/index.html"
    assert metadata["data_docs_path"].value == str(page)
