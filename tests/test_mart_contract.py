"""Every mart and column of the mart contract exists, grain first, with the contract's types.

Reads the contract from docs/specs/mart-contract.md (the spec this project is built against, kept
in the repository); a missing contract fails the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SampleRun

from orchestration import settings

CONTRACT = settings.REPO_ROOT / "docs" / "specs" / "mart-contract.md"
DATE_COLUMNS = {"business_date", "month", "signup_date", "cohort_month", "as_of_date"}
DATE_COLUMNS |= {"forecast_date"}
# Column-name families and the type the contract gives them (money DECIMAL(18,2), counts
# BIGINT, ratios DOUBLE).
RATIO_NAMES = [
    r"_rate$", r"_share$", r"^ctr$", r"^ad_ctr$", r"^stickiness$", r"^roas$", r"_lift$",
    r"^step_conversion$", r"^drop_off$", r"^p_value$", r"^z_score$", r"^retention_d\d+$",
]  # fmt: skip
COUNT_NAMES = [
    r"^orders", r"_orders$", r"^sessions", r"^page_views$", r"visitors$", r"^buyers$",
    r"customers$", r"^tickets$", r"^complaints$", r"^units_sold$", r"_count$",
    r"^impressions$", r"^clicks$", r"^dau$", r"^wau$", r"^mau$", r"^cohort_size$", r"_attempts$",
]  # fmt: skip
RATIO = re.compile("|".join(RATIO_NAMES))
MONEY = re.compile(r"^gmv$|revenue$|^refunds$|^spend$|^cac$|^monetary$|^net_spend_365d$")
COUNT = re.compile("|".join(COUNT_NAMES))


def contract_marts(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    marts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("mart", "---") or not re.fullmatch(r"[a-z_]+", cells[0]):
            continue
        grain = [g.strip() for g in re.sub(r"\s*\([^)]*\)", "", cells[1]).split(",")]
        columns = [c.strip() for c in re.sub(r"\s*\([^)]*\)", "", cells[2]).split(",")]
        marts[cells[0]] = (grain, [c for c in columns if c])
    return marts


@pytest.fixture(scope="module")
def contract() -> dict[str, tuple[list[str], list[str]]]:
    assert CONTRACT.is_file(), f"the mart contract is missing: {CONTRACT}"
    marts = contract_marts(CONTRACT)
    assert len(marts) == 29
    return marts


def test_every_mart_has_its_grain_first_and_every_column(sample_run: SampleRun, contract):
    for mart, (grain, columns) in contract.items():
        described = sample_run.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'marts' AND table_name = '{mart}' ORDER BY ordinal_position"
        )
        assert described, f"marts.{mart} is missing"
        names = [name for name, _ in described]
        assert names[: len(grain)] == grain, mart
        missing = [c for c in columns if c not in names]
        assert not missing, f"marts.{mart} lacks {missing}"


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
            if column in DATE_COLUMNS and sql_type != "DATE":
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
    assert {kinds.get(m) for m in contract} == {"BASE TABLE"}
