"""Every mart and column of the mart contract exists, grain first, with the contract's types.

Reads the contract from docs/specs/mart-contract.md (the spec this project is built against, kept
in the repository): the first-round table (mart, grain, columns) and the "Second round" one (the
same plus the catalog KPI); a missing contract fails the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SampleRun

from orchestration import settings

CONTRACT = settings.REPO_ROOT / "docs" / "specs" / "mart-contract.md"
DATE_COLUMNS = {"business_date", "month", "signup_date", "cohort_month", "as_of_date"}
DATE_COLUMNS |= {"forecast_date", "launch_date"}
# Column-name families and the type the contract gives them (money DECIMAL(18,2), counts
# BIGINT, ratios DOUBLE).
RATIO_NAMES = [
    r"_rate$", r"_share$", r"^ctr$", r"^ad_ctr$", r"^stickiness$", r"^roas$", r"_lift$",
    r"^step_conversion$", r"^drop_off$", r"^p_value$", r"^z_score$", r"^retention_d\d+$",
    r"_growth$", r"_probability$", r"_auc$", r"^attainment$", r"^pace$",
]  # fmt: skip
COUNT_NAMES = [
    r"^orders", r"_orders$", r"^sessions", r"^page_views$", r"visitors$", r"^buyers$",
    r"customers$", r"^tickets$", r"^complaints$", r"^units_sold$", r"_count$",
    r"^impressions$", r"^clicks$", r"^dau$", r"^wau$", r"^mau$", r"^cohort_size$", r"_attempts$",
    r"^attempts$", r"_sessions$", r"^searches$", r"_views$", r"^viewers$", r"^likes$",
    r"^comments$", r"^shares$", r"^add_to_carts$", r"^purchases$",
]  # fmt: skip
RATIO = re.compile("|".join(RATIO_NAMES))
MONEY = re.compile(r"^gmv$|revenue$|^refunds$|^spend$|^cac$|^monetary$|^net_spend_365d$|_amount$")
COUNT = re.compile("|".join(COUNT_NAMES))
# Where a name means another family in one mart: refund_reasons counts its refunds.
TYPE_OVERRIDES = {("refund_reasons", "refunds"): "BIGINT"}


def contract_marts(path: Path, cells_per_row: int = 3) -> dict[str, tuple[list[str], list[str]]]:
    """The marts of the contract's table whose rows have `cells_per_row` cells: 3 for the
    first round, 4 for the second (its last cell names the catalog KPI)."""
    marts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != cells_per_row or not re.fullmatch(r"[a-z_]+", cells[0]):
            continue
        if cells[0] == "mart":
            continue
        grain = [g.strip() for g in re.sub(r"\s*\([^)]*\)", "", cells[1]).split(",")]
        columns = [c.strip() for c in re.sub(r"\s*\([^)]*\)", "", cells[2]).split(",")]
        marts[cells[0]] = (grain, [c for c in columns if c])
    return marts


# The contract's tables: cells per row and the number of marts.
ROUNDS = {"first": (3, 29), "second": (4, 12)}


@pytest.fixture(scope="module", params=list(ROUNDS))
def contract(request: pytest.FixtureRequest) -> dict[str, tuple[list[str], list[str]]]:
    assert CONTRACT.is_file(), f"the mart contract is missing: {CONTRACT}"
    cells_per_row, count = ROUNDS[request.param]
    marts = contract_marts(CONTRACT, cells_per_row)
    assert len(marts) == count
    return marts


def test_every_mart_has_its_grain_first_and_every_column(sample_run: SampleRun, contract):
    problems = []
    for mart, (grain, columns) in contract.items():
        described = sample_run.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'marts' AND table_name = '{mart}' ORDER BY ordinal_position"
        )
        if not described:
            problems.append(f"marts.{mart} is missing")
            continue
        names = [name for name, _ in described]
        if names[: len(grain)] != grain:
            problems.append(f"marts.{mart} does not start with its grain {grain}")
        missing = [c for c in columns if c not in names]
        if missing:
            problems.append(f"marts.{mart} lacks {missing}")
    assert not problems, problems


def test_customer_snapshot_has_activity_tier_beside_member_tier(sample_run: SampleRun):
    types = dict(
        sample_run.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name = 'customer_snapshot'"
        )
    )
    assert types.get("activity_tier") == "VARCHAR"
    assert types.get("member_tier") == "VARCHAR"


def test_column_types_follow_the_contract(sample_run: SampleRun, contract):
    wrong = []
    for mart, (grain, columns) in contract.items():
        types = dict(
            sample_run.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_schema = 'marts' AND table_name = '{mart}'"
            )
        )
        for column in grain + columns:
            sql_type = types.get(column)
            override = TYPE_OVERRIDES.get((mart, column))
            if override:
                if sql_type != override:
                    wrong.append((mart, column, sql_type, override))
            elif column in DATE_COLUMNS and sql_type != "DATE":
                wrong.append((mart, column, sql_type, "DATE"))
            elif RATIO.search(column) and sql_type != "DOUBLE":
                wrong.append((mart, column, sql_type, "DOUBLE"))
            elif MONEY.search(column) and sql_type != "DECIMAL(18,2)":
                wrong.append((mart, column, sql_type, "DECIMAL(18,2)"))
            elif COUNT.search(column) and not RATIO.search(column) and sql_type != "BIGINT":
                wrong.append((mart, column, sql_type, "BIGINT"))
    assert not wrong, wrong


def test_marts_are_tables(sample_run: SampleRun, contract):
    kinds = dict(
        sample_run.query(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'marts'"
        )
    )
    assert {m: kinds.get(m) for m in contract} == dict.fromkeys(contract, "BASE TABLE")
