"""The suite files and the GX glue: format checks, contract coverage, results from a real table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.contract import (
    DEVICES,
    EVENT_TYPES,
    FEEDS,
    LINEAGE_COLUMNS,
    ORDER_STATUSES,
    PAGE_TYPES,
    PAYMENT_STATUSES,
    raw_table_ddl,
)
from orchestration.quality import gx_validation
from orchestration.quality.gx_validation import (
    MAX_VALUES,
    SEVERITIES,
    RowScope,
    SuiteFile,
    discover_suite_files,
    is_row_level,
    load_suite,
    read_suite_file,
    validate_table,
)
from orchestration.settings import EXPECTATIONS_DIR

SUITES = discover_suite_files(EXPECTATIONS_DIR)
RAW_SUITES = [s for s in SUITES if s.name.startswith("raw.")]
_COLUMN_KWARGS = ("column", "column_A", "column_B")


def _columns(suite: SuiteFile) -> set[str]:
    """Every column an expectation of the suite names."""
    cols: set[str] = set()
    for exp in suite.expectations:
        kwargs = exp["kwargs"]
        cols.update(kwargs[k] for k in _COLUMN_KWARGS if k in kwargs)
        cols.update(kwargs.get("column_list", []))
    return cols


def _has(suite: SuiteFile, exp_type: str, severity: str = "critical", **kwargs: Any) -> bool:
    return any(
        e["type"] == exp_type
        and e["meta"]["severity"] == severity
        and all(e["kwargs"].get(k) == v for k, v in kwargs.items())
        for e in suite.expectations
    )


# --------------------------------------------------------------------------------------------
# The suite files in expectations/
# --------------------------------------------------------------------------------------------


def test_expected_suites_exist() -> None:
    names = {s.name for s in SUITES}
    assert {f"raw.{f}" for f in ("orders", "order_items", "payments", "events")} <= names
    assert {"marts.daily_sales", "marts.daily_traffic"} <= names


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_suite_loads_as_gx_suite_with_severities(suite: SuiteFile) -> None:
    import great_expectations as gx

    gx_suite = load_suite(suite)
    assert isinstance(gx_suite, gx.ExpectationSuite)
    assert gx_suite.name == suite.name == suite.path.stem
    # Nothing dropped: GX silently skips expectations it cannot build.
    assert len(gx_suite.expectations) == len(suite.expectations)
    assert all(e.meta["severity"] in SEVERITIES for e in gx_suite.expectations)
    # Every suite can stop bad data: at least one critical expectation.
    assert suite.count("critical") >= 1


@pytest.mark.parametrize("suite", RAW_SUITES, ids=lambda s: s.name)
def test_raw_suite_columns_exist_in_contract(suite: SuiteFile) -> None:
    feed = FEEDS[suite.name.removeprefix("raw.")]
    known = {*feed.columns, *LINEAGE_COLUMNS}
    assert _columns(suite) <= known, "a raw suite names a column the contract lacks"


@pytest.mark.parametrize("suite", RAW_SUITES, ids=lambda s: s.name)
def test_raw_suite_covers_key_and_required_columns(suite: SuiteFile) -> None:
    feed = FEEDS[suite.name.removeprefix("raw.")]
    for col in (*feed.key, *feed.required):
        assert _has(suite, "expect_column_values_to_not_be_null", column=col), col
    # raw keeps one version per key and dt partition (staging picks the newest across them)
    key_per_partition = [*feed.key, "_partition_dt"]
    assert _has(suite, "expect_compound_columns_to_be_unique", column_list=key_per_partition)
    assert any(e["type"] == "expect_table_row_count_to_be_between" for e in suite.expectations)


@pytest.mark.parametrize(
    ("suite_name", "column", "domain"),
    [
        ("raw.orders", "status", ORDER_STATUSES),
        ("raw.payments", "status", PAYMENT_STATUSES),
        ("raw.events", "event_type", EVENT_TYPES),
        ("raw.events", "page_type", PAGE_TYPES),
        ("raw.events", "device", DEVICES),
    ],
)
def test_domains_follow_the_contract(suite_name: str, column: str, domain: tuple[str, ...]) -> None:
    (suite,) = (s for s in SUITES if s.name == suite_name)
    assert _has(suite, "expect_column_values_to_be_in_set", column=column, value_set=list(domain))


# --------------------------------------------------------------------------------------------
# Malformed suites
# --------------------------------------------------------------------------------------------

_OK_EXPECTATION = {
    "type": "expect_column_values_to_not_be_null",
    "kwargs": {"column": "a"},
    "meta": {"severity": "critical"},
}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        (["a list"], "must be an object"),
        ({"expectation_suite_name": "raw.t", "expectations": []}, "whose 'name' is"),
        ({"name": "raw.other", "expectations": [_OK_EXPECTATION]}, "the file name 'raw.t'"),
        ({"name": "raw.t", "expectations": []}, "non-empty list"),
        (
            {"name": "raw.t", "expectations": [{**_OK_EXPECTATION, "meta": {}}]},
            r"expectations\[0\] \(expect_column_values_to_not_be_null\) needs meta\.severity",
        ),
        (
            {"name": "raw.t", "expectations": [{**_OK_EXPECTATION, "meta": {"severity": "high"}}]},
            "meta.severity",
        ),
        (
            {"name": "raw.t", "expectations": [{"expectation_type": "x", "kwargs": {}}]},
            r"expectations\[0\] \(None\) needs 'type' and 'kwargs'",
        ),
    ],
)
def test_malformed_suite_file_names_file_and_problem(
    tmp_path: Path, content: Any, problem: str
) -> None:
    path = tmp_path / "raw.t.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError, match=problem) as info:
        read_suite_file(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("expectation", "problem"),
    [
        ({**_OK_EXPECTATION, "type": "expect_column_to_be_fancy"}, "expect_column_to_be_fancy"),
        (
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "a", "minimum": 0},
                "meta": {"severity": "warning"},
            },
            "minimum",
        ),
    ],
)
def test_suite_gx_rejects_names_file_and_expectation(
    tmp_path: Path, expectation: dict[str, Any], problem: str
) -> None:
    path = tmp_path / "raw.t.json"
    path.write_text(json.dumps({"name": "raw.t", "expectations": [_OK_EXPECTATION, expectation]}))
    with pytest.raises(ValueError, match=problem) as info:
        load_suite(read_suite_file(path))
    assert "raw.t.json" in str(info.value) and "expectations[1]" in str(info.value)


# --------------------------------------------------------------------------------------------
# Validating a DuckDB table
# --------------------------------------------------------------------------------------------


@pytest.fixture
def orders_db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    conn.execute(raw_table_ddl(FEEDS["orders"]))
    conn.execute(
        """INSERT INTO raw.orders (order_id, customer_id, order_ts, status, discount_amount)
        VALUES ('o1', 'c1', '2024-01-01 10:00', 'paid', 0),
               ('o2', 'c1', '2024-01-01 11:00', 'lost', 0),
               ('o2', 'c2', '2024-01-01 12:00', 'paid', -2.50),
               (NULL, 'c3', '2024-01-01 13:00', 'paid', 0)"""
    )
    yield conn
    conn.close()


def _write_suite(
    tmp_path: Path, expectations: list[dict[str, Any]], name: str = "raw.orders"
) -> SuiteFile:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expectations": expectations}))
    return read_suite_file(path)


def _exp(exp_type: str, severity: str = "critical", **kwargs: Any) -> dict[str, Any]:
    return {"type": exp_type, "kwargs": kwargs, "meta": {"severity": severity}}


@pytest.mark.parametrize(("max_rows", "expected"), [(4, "pandas"), (3, "sql")])
def test_auto_backend_picks_pandas_for_a_small_table(
    tmp_path: Path,
    orders_db: duckdb.DuckDBPyConnection,
    monkeypatch: pytest.MonkeyPatch,
    max_rows: int,
    expected: str,
) -> None:
    """`auto` reads a table of at most PANDAS_MAX_ROWS rows into pandas, else lets GX
    query DuckDB; both judge the same rows (the 4 orders, one NULL order_id)."""
    monkeypatch.setattr(gx_validation, "PANDAS_MAX_ROWS", max_rows)
    suite = _write_suite(tmp_path, [_exp("expect_column_values_to_not_be_null", column="order_id")])
    result = validate_table(orders_db, suite, backend="auto")

    assert result.backend == expected and result.row_count == 4
    assert [(o["success"], o["unexpected_count"]) for o in result.outcomes] == [(False, 1)]


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_validate_table_reports_each_expectation(
    tmp_path: Path, orders_db: duckdb.DuckDBPyConnection, backend: str
) -> None:
    suite = _write_suite(
        tmp_path,
        [
            _exp("expect_column_values_to_not_be_null", column="order_id"),
            _exp("expect_column_values_to_be_unique", column="order_id"),
            _exp("expect_column_values_to_be_in_set", column="status", value_set=["paid"]),
            _exp(
                "expect_column_values_to_be_between",
                "warning",
                column="discount_amount",
                min_value=0,
            ),
            _exp("expect_table_row_count_to_be_between", min_value=1),
            _exp("expect_column_values_to_not_be_null", column="no_such_column"),
        ],
    )
    result = validate_table(orders_db, suite, backend=backend)

    assert result.failed()
    assert result.row_count == 4 and result.backend == backend and result.duration_s >= 0
    # Results come back in the file's order.
    not_null, unique, in_set, between, row_count, missing = result.outcomes
    assert (not_null["label"], not_null["success"], not_null["unexpected_count"]) == (
        "expect_column_values_to_not_be_null(order_id)",
        False,
        1,
    )
    assert not_null["values"] == [None]  # GX's NaN made JSON-safe
    assert (unique["success"], unique["values"]) == (False, ["o2"])
    assert (in_set["severity"], in_set["values"]) == ("critical", ["lost"])
    assert (between["severity"], between["success"], between["values"]) == (
        "warning",
        False,
        [-2.5],
    )
    assert (row_count["success"], row_count["observed"]) == (True, 4)
    # An expectation GX could not evaluate counts as failed, with GX's message.
    assert not missing["success"] and "no_such_column" in (missing["error"] or "")
    assert [o["label"] for o in result.failed("warning")] == [
        "expect_column_values_to_be_between(discount_amount)"
    ]
    json.dumps(result.outcomes)  # everything is JSON-safe


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_a_suite_run_again_judges_the_new_rows_and_expectations(
    tmp_path: Path, orders_db: duckdb.DuckDBPyConnection, backend: str
) -> None:
    """Each run judges the rows and expectations of its time, the suite changed or not."""
    not_null = _exp("expect_column_values_to_not_be_null", column="order_id")
    in_set = _exp("expect_column_values_to_be_in_set", column="status", value_set=["paid"])
    first = validate_table(orders_db, _write_suite(tmp_path, [not_null]))
    orders_db.execute("DELETE FROM raw.orders WHERE order_id IS NULL")
    again = validate_table(orders_db, _write_suite(tmp_path, [not_null]))
    changed = _write_suite(tmp_path, [not_null, in_set])
    last = validate_table(orders_db, changed, backend=backend)
    assert [len(r.failed()) for r in (first, again, last)] == [1, 0, 1]
    assert last.failed()[0]["values"] == ["lost"]


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_unexpected_values_are_capped(tmp_path: Path, backend: str) -> None:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    conn.execute("CREATE TABLE raw.orders AS SELECT 'bad' || i AS status FROM range(100) t(i)")
    suite = _write_suite(
        tmp_path, [_exp("expect_column_values_to_be_in_set", column="status", value_set=["ok"])]
    )
    (outcome,) = validate_table(conn, suite, backend=backend).outcomes
    assert outcome["unexpected_count"] == 100
    assert len(outcome["values"]) == MAX_VALUES


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_validate_table_missing_table(
    tmp_path: Path, orders_db: duckdb.DuckDBPyConnection, backend: str
) -> None:
    count = [_exp("expect_table_row_count_to_be_between", min_value=1)]
    with pytest.raises(duckdb.CatalogException, match="missing"):
        validate_table(orders_db, _write_suite(tmp_path, count, "raw.missing"), backend=backend)


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_row_condition_on_a_column_named_nowhere_else(tmp_path: Path, backend: str) -> None:
    """The pandas backend reads only the columns a suite names; a row_condition names one too."""
    suite_path = tmp_path / "main.scores.json"
    suite_path.write_text(
        json.dumps(
            {
                "name": "main.scores",
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_between",
                        "kwargs": {
                            "column": "score",
                            "min_value": 1,
                            "max_value": 5,
                            "row_condition": {
                                "type": "comparison",
                                "column": {"name": "kind"},
                                "operator": "==",
                                "parameter": "csat",
                            },
                        },
                        "meta": {"severity": "critical"},
                    }
                ],
                "meta": {},
            }
        )
    )
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute(
        "CREATE TABLE scores AS SELECT * FROM (VALUES ('csat', 5), ('nps', 9), ('csat', 0)) "
        "AS t(kind, score)"
    )
    result = validate_table(conn, read_suite_file(suite_path), backend=backend)
    conn.close()
    [outcome] = result.outcomes
    assert outcome["error"] is None
    assert not outcome["success"]
    assert outcome["values"] == [0]


# --------------------------------------------------------------------------------------------
# Row scopes: row-level expectations on a range of partitions, table-level ones on every row
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp_type", "kwargs", "row_level"),
    [
        ("expect_column_values_to_not_be_null", {"column": "a", "mostly": 0.95}, True),
        ("expect_column_values_to_be_in_set", {"column": "a", "value_set": ["x"]}, True),
        ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "a"}, True),
        ("expect_compound_columns_to_be_unique", {"column_list": ["k", "_partition_dt"]}, True),
        # the same key in two partitions is allowed; without the partition, it is not
        ("expect_compound_columns_to_be_unique", {"column_list": ["k"]}, False),
        ("expect_column_values_to_be_unique", {"column": "k"}, False),
        ("expect_column_values_to_be_increasing", {"column": "k"}, False),
        ("expect_table_row_count_to_be_between", {"min_value": 1}, False),
        ("expect_column_distinct_values_to_contain_set", {"column": "a"}, False),
        ("expect_column_mean_to_be_between", {"column": "a"}, False),
    ],
)
def test_is_row_level(exp_type: str, kwargs: dict[str, Any], row_level: bool) -> None:
    assert is_row_level(exp_type, kwargs) is row_level


@pytest.mark.parametrize("suite", RAW_SUITES, ids=lambda s: s.name)
def test_raw_suites_split_into_row_and_table_level(suite: SuiteFile) -> None:
    """Every raw suite keeps its row count on the whole table and its checks of values and
    per-partition keys on the run's partitions."""
    table_level = {
        e["type"] for e in suite.expectations if not is_row_level(e["type"], e["kwargs"])
    }
    assert "expect_table_row_count_to_be_between" in table_level
    assert table_level <= {
        "expect_table_row_count_to_be_between",
        "expect_column_distinct_values_to_contain_set",
    }
    assert any(
        e["type"] == "expect_compound_columns_to_be_unique" and is_row_level(e["type"], e["kwargs"])
        for e in suite.expectations
    )


@pytest.fixture
def partitioned_db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """raw.orders over three dt partitions: a bad status on 03-01, a repeated key on 03-02 (in
    one partition) and on 03-02 and 03-03 (across partitions), a cancelled order only on 03-01."""
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    conn.execute(raw_table_ddl(FEEDS["orders"]))
    conn.execute(
        """INSERT INTO raw.orders (order_id, status, _partition_dt) VALUES
            ('o1', 'lost', '2025-03-01'), ('o2', 'cancelled', '2025-03-01'),
            ('o3', 'paid', '2025-03-02'), ('o3', 'paid', '2025-03-02'),
            ('o4', 'paid', '2025-03-02'), ('o4', 'paid', '2025-03-03'),
            ('o5', 'paid', '2025-03-03')"""
    )
    yield conn
    conn.close()


def _scoped_suite(tmp_path: Path) -> SuiteFile:
    return _write_suite(
        tmp_path,
        [
            _exp(
                "expect_column_values_to_be_in_set",
                column="status",
                value_set=["paid", "cancelled"],
            ),
            _exp("expect_table_row_count_to_be_between", "warning", max_value=5),
            _exp("expect_compound_columns_to_be_unique", column_list=["order_id", "_partition_dt"]),
            _exp("expect_column_values_to_be_unique", "warning", column="order_id"),
            _exp(
                "expect_column_distinct_values_to_contain_set",
                "warning",
                column="status",
                value_set=["cancelled"],
            ),
        ],
    )


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_row_scope_judges_row_level_expectations_on_its_rows_only(
    tmp_path: Path, partitioned_db: duckdb.DuckDBPyConnection, backend: str
) -> None:
    suite = _scoped_suite(tmp_path)
    scope = RowScope(date(2025, 3, 3), date(2025, 3, 3))
    result = validate_table(partitioned_db, suite, backend=backend, row_scope=scope)

    assert (result.row_count, result.rows_in_scope, result.row_scope) == (
        7,
        2,
        "dt 2025-03-03..2025-03-03",
    )
    in_set, row_count, key_per_dt, unique, contains = result.outcomes  # the file's order
    # Row-level, on 03-03's two rows: 03-01's bad status and 03-02's repeated key are not seen.
    assert in_set["success"] and key_per_dt["success"]
    assert in_set["rows"] == key_per_dt["rows"] == "dt 2025-03-03..2025-03-03"
    # Table-level, on all seven rows: the row count, the cancelled order of 03-01, the keys
    # repeated in 03-02 and across 03-02 and 03-03.
    assert (row_count["success"], row_count["observed"], row_count["rows"]) == (False, 7, None)
    assert contains["success"] and contains["rows"] is None
    assert not unique["success"] and sorted(unique["values"]) == ["o3", "o4"]
    # One GX result for the Data Docs.
    assert len(result.outcomes) == 5

    wider = RowScope(date(2025, 3, 1), date(2025, 3, 2))
    result = validate_table(partitioned_db, suite, backend=backend, row_scope=wider)
    in_set, _, key_per_dt, _, _ = result.outcomes
    assert (in_set["success"], in_set["values"]) == (False, ["lost"])
    assert not key_per_dt["success"] and result.rows_in_scope == 5


def test_row_scope_without_rows_in_it(
    tmp_path: Path, partitioned_db: duckdb.DuckDBPyConnection
) -> None:
    """A range the table has no rows of (a day a feed skipped): row-level expectations pass on
    no rows, table-level ones still judge the table."""
    scope = RowScope(date(2025, 4, 1), date(2025, 4, 2))
    result = validate_table(partitioned_db, _scoped_suite(tmp_path), row_scope=scope)
    assert (result.rows_in_scope, result.row_count) == (0, 7)
    assert [o["success"] for o in result.outcomes] == [True, False, True, False, True]
