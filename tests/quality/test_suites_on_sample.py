"""The marketing, feedback and traffic/sales mart suites on tiny hand-made tables.

The end-to-end test runs every suite on a generated sample; these tests pin the rules that are
easy to get subtly wrong: domains that must follow the contract and the channel_group macro,
feeds that a small shop may leave empty (row count is only a warning there), and the
expectations that use a GX 1.x `row_condition` or a column-pair value set, on both backends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.contract import DEVICES, SURVEY_TYPES, create_empty_raw_schema
from orchestration.quality.gx_validation import SuiteFile, discover_suite_files, validate_table
from orchestration.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR

SUITES = {s.name: s for s in discover_suite_files(EXPECTATIONS_DIR)}
BACKENDS = ["pandas", "sql"]
# Feeds a small shop may not deliver at all: an empty table must pass every critical rule.
OPTIONAL_FEEDS = ("surveys", "tickets", "experiment_assignments", "marketing_spend", "campaigns")


def _value_set(suite: SuiteFile, column: str, severity: str = "critical") -> set[Any]:
    (exp,) = (
        e
        for e in suite.expectations
        if e["type"] == "expect_column_values_to_be_in_set"
        and e["kwargs"]["column"] == column
        and e["meta"]["severity"] == severity
    )
    return set(exp["kwargs"]["value_set"])


def _macro_channels() -> set[str]:
    """The channels the channel_group macro can return (its CASE outputs)."""
    sql = (DBT_PROJECT_DIR / "macros" / "channel_group.sql").read_text(encoding="utf-8")
    return set(re.findall(r"(?:then|else) '([a-z_]+)'", sql))


def _failed(result: Any, severity: str) -> list[tuple[str, list[Any]]]:
    return [(o["label"], o["values"]) for o in result.failed(severity)]


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield conn
    conn.close()


# --------------------------------------------------------------------------------------------
# Domains
# --------------------------------------------------------------------------------------------


def test_domains_follow_the_contract() -> None:
    assert _value_set(SUITES["raw.surveys"], "survey_type") == set(SURVEY_TYPES)
    assert _value_set(SUITES["marts.daily_device"], "device") == {
        *DEVICES,
        "unknown",
        "unattributed",
    }


def test_channel_domains_follow_the_channel_group_macro() -> None:
    channels = _macro_channels()
    assert len(channels) == 10, channels
    assert _value_set(SUITES["marts.daily_channel"], "channel") == channels | {"unattributed"}
    assert _value_set(SUITES["marts.daily_funnel"], "channel") == channels | {"all"}
    for feed in ("raw.marketing_spend", "raw.campaigns"):
        assert _value_set(SUITES[feed], "channel", "warning") == channels


# --------------------------------------------------------------------------------------------
# Optional feeds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_optional_feeds_may_be_empty(conn: duckdb.DuckDBPyConnection, backend: str) -> None:
    create_empty_raw_schema(conn)
    for feed in OPTIONAL_FEEDS:
        result = validate_table(conn, SUITES[f"raw.{feed}"], backend=backend)
        assert result.row_count == 0
        assert result.failed("critical") == [], feed
        assert "expect_table_row_count_to_be_between" in [
            o["label"] for o in result.failed("warning")
        ]


# --------------------------------------------------------------------------------------------
# row_condition and column-pair value sets, on both backends
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_survey_scores_are_checked_per_survey_type(
    conn: duckdb.DuckDBPyConnection, backend: str
) -> None:
    create_empty_raw_schema(conn)
    conn.execute(
        """INSERT INTO raw.surveys (response_id, customer_id, survey_type, score, response_ts)
        VALUES ('r1', 'c1', 'nps', 0, '2025-01-01 10:00'),
               ('r2', 'c1', 'nps', 10, '2025-01-01 10:00'),
               ('r3', 'c2', 'csat', 1, '2025-01-01 10:00'),
               ('r4', 'c2', 'csat', 5, '2025-01-01 10:00')"""
    )
    suite = SUITES["raw.surveys"]
    result = validate_table(conn, suite, backend=backend)
    assert not result.failed()

    # 0 is a valid NPS answer but not a CSAT one; 7 is valid NPS only; 11 is valid for neither.
    conn.execute(
        """INSERT INTO raw.surveys (response_id, customer_id, survey_type, score, response_ts)
        VALUES ('r5', 'c3', 'csat', 0, '2025-01-02 10:00'),
               ('r6', 'c3', 'csat', 7, '2025-01-02 10:00'),
               ('r7', 'c3', 'nps', 11, '2025-01-02 10:00')"""
    )
    result = validate_table(conn, suite, backend=backend)
    failed = {
        o["kwargs"]["row_condition"]["parameter"]: sorted(o["values"])
        for o in result.failed("critical")
    }
    assert failed == {"nps": [11], "csat": [0, 7]}
    assert result.failed("warning") == []


_FUNNEL_DDL = """CREATE TABLE marts.daily_funnel (
    business_date DATE, channel VARCHAR, step VARCHAR, step_order INTEGER,
    sessions_reached BIGINT, step_conversion DOUBLE, drop_off DOUBLE,
    previous_step_reached BIGINT)"""
# One day of channel 'all': 10 sessions, 6 product views, 3 carts, 2 checkouts, 1 purchase.
_FUNNEL_ROWS = [
    ("2025-01-01", "all", "session", 1, 10, None, None, None),
    ("2025-01-01", "all", "product_view", 2, 6, 0.6, 0.4, 10),
    ("2025-01-01", "all", "add_to_cart", 3, 3, 0.5, 0.5, 6),
    ("2025-01-01", "all", "begin_checkout", 4, 2, 2 / 3, 1 / 3, 3),
    ("2025-01-01", "all", "purchase", 5, 1, 0.5, 0.5, 2),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_funnel_step_positions_and_first_step(
    conn: duckdb.DuckDBPyConnection, backend: str
) -> None:
    conn.execute("CREATE SCHEMA marts")
    conn.execute(_FUNNEL_DDL)
    insert = "INSERT INTO marts.daily_funnel VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    conn.executemany(insert, _FUNNEL_ROWS)
    suite = SUITES["marts.daily_funnel"]
    assert validate_table(conn, suite, backend=backend).failed() == []

    # Another channel's day: purchase out of place, a base on the first step, and an open-funnel
    # step above the previous one (only a warning).
    conn.executemany(
        insert,
        [
            ("2025-01-01", "direct", "session", 1, 4, None, None, 4),
            ("2025-01-01", "direct", "product_view", 2, 2, 0.5, 0.5, 4),
            ("2025-01-01", "direct", "add_to_cart", 3, 3, 1.5, -0.5, 2),
            ("2025-01-01", "direct", "begin_checkout", 4, 1, 1 / 3, 2 / 3, 3),
            ("2025-01-01", "direct", "purchase", 4, 1, 1.0, 0.0, 1),
        ],
    )
    result = validate_table(conn, suite, backend=backend)
    assert _failed(result, "critical") == [
        ("expect_column_pair_values_to_be_in_set(step, step_order)", [["purchase", 4]]),
        ("expect_column_values_to_be_null(previous_step_reached)", [4]),
    ]
    assert _failed(result, "warning") == [
        ("expect_column_values_to_be_between(step_conversion)", [1.5])
    ]
