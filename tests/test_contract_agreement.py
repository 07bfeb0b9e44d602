"""The dbt sources and the raw GX suites say what orchestration/contract.py says.

The contract is declared once, in contract.py. The sources YAML must list each feed under its
source system with the contract's columns, lineage included, in order and with their types.
Each raw suite (expectations/raw.<feed>.json) must hold, at severity critical, exactly the
checks the contract implies: not-null for the key and required columns, one row per key and
`dt` partition, and the InSet, Between and NotBefore rules. Warning-severity expectations are
the house's own; they may only name contract columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration.contract import FEEDS, LINEAGE_COLUMNS, Between, Feed, InSet, NotBefore

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "dbt_project" / "models" / "staging").glob("*/*sources.yml"))
SUITES = REPO / "expectations"
TABLE_LEVEL = {"expect_table_row_count_to_be_between"}  # about volume, not the contract


def source_tables() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every table of the sources YAML: name → (source, table entry)."""
    found = {}
    for path in SOURCES:
        for source in yaml.safe_load(path.read_text())["sources"]:
            assert source.get("schema") == "raw", f"{path}: source {source['name']} not in raw"
            found.update({t["name"]: (source["name"], t) for t in source["tables"]})
    return found


def expected_checks(feed: Feed) -> set[str]:
    """The critical expectations the contract implies, each as canonical JSON."""
    checks = [("expect_column_values_to_not_be_null", {"column": c}) for c in feed.key]
    checks += [("expect_column_values_to_not_be_null", {"column": c}) for c in feed.required]
    key = {"column_list": [*feed.key, "_partition_dt"]}
    checks.append(("expect_compound_columns_to_be_unique", key))
    for rule in feed.rules:
        if isinstance(rule, InSet):
            kwargs = {"column": rule.column, "value_set": list(rule.values)}
            checks.append(("expect_column_values_to_be_in_set", kwargs))
        elif isinstance(rule, Between):
            kwargs = {"column": rule.column, "min_value": rule.min_value}
            if rule.max_value is not None:
                kwargs["max_value"] = rule.max_value
            if rule.when is not None:
                column, value = rule.when
                kwargs["row_condition"] = {
                    "type": "comparison",
                    "column": {"name": column},
                    "operator": "==",
                    "parameter": value,
                }
            checks.append(("expect_column_values_to_be_between", kwargs))
        elif isinstance(rule, NotBefore):
            kwargs = {"column_A": rule.later, "column_B": rule.earlier, "or_equal": True}
            kwargs["ignore_row_if"] = "either_value_is_missing"
            checks.append(("expect_column_pair_values_a_to_be_greater_than_b", kwargs))
    return {json.dumps([kind, kwargs], sort_keys=True) for kind, kwargs in checks}


def suite(feed: str) -> list[dict[str, Any]]:
    return json.loads((SUITES / f"raw.{feed}.json").read_text())["expectations"]


def test_the_sources_list_exactly_the_contract_feeds() -> None:
    tables = source_tables()
    assert sorted(tables) == sorted(FEEDS)
    assert {name: source for name, (source, _) in tables.items()} == {
        name: feed.source for name, feed in FEEDS.items()
    }


@pytest.mark.parametrize("feed", FEEDS.values(), ids=FEEDS)
def test_source_columns_and_types_are_the_contract(feed: Feed) -> None:
    _, table = source_tables()[feed.name]
    declared = [(c["name"], c.get("data_type", "").lower()) for c in table["columns"]]
    contract = [(c, t.lower()) for c, t in {**feed.columns, **LINEAGE_COLUMNS}.items()]
    assert declared == contract


def test_there_is_one_raw_suite_per_feed() -> None:
    assert sorted(p.name for p in SUITES.glob("raw.*.json")) == sorted(
        f"raw.{feed}.json" for feed in FEEDS
    )


@pytest.mark.parametrize("feed", FEEDS.values(), ids=FEEDS)
def test_critical_expectations_are_the_contract(feed: Feed) -> None:
    found = {
        json.dumps([e["type"], e["kwargs"]], sort_keys=True)
        for e in suite(feed.name)
        if e.get("meta", {}).get("severity") == "critical" and e["type"] not in TABLE_LEVEL
    }
    expected = expected_checks(feed)
    assert (sorted(found - expected), sorted(expected - found)) == ([], [])


@pytest.mark.parametrize("feed", FEEDS.values(), ids=FEEDS)
def test_every_expectation_names_contract_columns(feed: Feed) -> None:
    known = {*feed.columns, *LINEAGE_COLUMNS}
    for expectation in suite(feed.name):
        kwargs = expectation["kwargs"]
        named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
        named += kwargs.get("column_list", [])
        named.append(kwargs.get("row_condition", {}).get("column", {}).get("name"))
        assert {n for n in named if n} <= known, expectation
