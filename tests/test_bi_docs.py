"""docs/bi.md's mart table is generated, and must stay in step with the marts.

The table between the `mart-contract` markers is rendered from the dbt YAML (mart, area folder,
what it is), the mart contract (grain = key columns; a second-round mart's catalog entry and the
columns marts gain) and the KPI catalog (each contract column that is a catalog KPI, linked to
the catalog section that defines it). Regenerate it with

    .venv/bin/python tests/test_bi_docs.py

and paste the output between the markers.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "docs" / "specs"
CATALOG = SPECS / "kpi-catalog.md"
CONTRACT = SPECS / "mart-contract.md"
MARTS_DIR = REPO / "dbt_project" / "models" / "marts"
BI_DOC = REPO / "docs" / "bi.md"
CATALOG_LINK = "specs/kpi-catalog.md"  # relative to docs/bi.md
# AARRR stage names of catalog section 7 that are not the marts' columns of the same name
# (purchase_cohorts.revenue is the cohort's revenue of section 4).
NOT_COLUMNS = {"revenue", "retention", "activation", "referral", "trend"}
START, END = "<!-- mart-contract:start -->", "<!-- mart-contract:end -->"
# Marts that are not dbt models: (area, what it is, catalog sections).
NOT_DBT = {"churn_risk": ("customers", "Churn risk per customer (a Dagster asset: below)", ["8"])}


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown viewers) give a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def catalog_sections(path: Path) -> dict[str, str]:
    """{section number: anchor} of the catalog's numbered `## N. Title` headings."""
    sections = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"## (\d+)\. ", line):
            sections[match.group(1)] = github_anchor(line[3:])
    return sections


def catalog_kpis(path: Path) -> dict[str, str]:
    """{kpi name: anchor of its catalog section}: the names in the first cell of each KPI row
    (`retention_d1, d7, d30` names retention_d1, retention_d7, retention_d30)."""
    kpis: dict[str, str] = {}
    anchor = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            anchor = github_anchor(line[3:])
        elif line.startswith("| ") and anchor and not line.startswith(("| KPI", "|---")):
            first = re.sub(r"\([^)]*\)", "", line.strip("|").split("|")[0])
            prefix = ""
            for piece in re.split(r"[,/]", first):
                name = piece.strip()
                if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in NOT_COLUMNS:
                    continue  # a phrase ("funnel steps") or a stage name, not a column name
                if re.fullmatch(r"d\d+", name) and prefix:
                    name = prefix + name
                elif match := re.match(r"(.*_)d\d+$", name):
                    prefix = match.group(1)
                kpis.setdefault(name, anchor)
    return kpis


def contract_grains(path: Path) -> dict[str, tuple[list[str], list[str], str]]:
    """{mart: (grain columns, contract columns, catalog entry or "")} from the mart contract's
    tables (the second round's has a fourth cell: the catalog section 8 entry)."""
    marts = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) not in (3, 4) or not re.fullmatch(r"[a-z_]+", cells[0]):
            continue
        if cells[0] == "mart":
            continue
        grain = [g.strip() for g in re.sub(r"\s*\([^)]*\)", "", cells[1]).split(",")]
        columns = [c.strip() for c in re.sub(r"\s*\([^)]*\)", "", cells[2]).split(",")]
        entry = cells[3] if len(cells) == 4 else ""
        marts[cells[0]] = (grain, [c for c in columns if c], entry)
    return marts


def contract_gains(path: Path) -> dict[str, list[tuple[str, str]]]:
    """{mart: [(column, catalog entry)]} from the contract's "`m` gains the column `c` (section
    N, entry)" lines."""
    gains: dict[str, list[tuple[str, str]]] = {}
    pattern = r"`(\w+)` gains the column `(\w+)` \(section \d+, (\w+)\)"
    for mart, column, entry in re.findall(pattern, path.read_text(encoding="utf-8")):
        gains.setdefault(mart, []).append((column, entry))
    return gains


def dbt_marts() -> dict[str, tuple[str, str, list[str]]]:
    """{mart: (area folder, what it is, catalog sections)} from the marts' dbt YAML, whose
    descriptions start `What it is (kpi-catalog section(s) N and M, ...`."""
    marts = {}
    for yml in sorted(MARTS_DIR.glob("*/*.yml")):
        for model in yaml.safe_load(yml.read_text(encoding="utf-8")).get("models", []):
            description = " ".join(model["description"].split())
            what = re.split(r" \(|\. ", description)[0]
            cited = re.search(r"kpi-catalog sections? ([\d, and]+)", description)
            sections = re.findall(r"\d+", cited.group(1)) if cited else []
            marts[model["name"]] = (yml.parent.name, what, sections)
    return marts


def render_table() -> str:
    kpis = catalog_kpis(CATALOG)
    sections = catalog_sections(CATALOG)
    grains = contract_grains(CONTRACT)
    gains = contract_gains(CONTRACT)
    number = {anchor: n for n, anchor in sections.items()}
    rows = [
        "| mart | area | what | grain (key columns) | catalog | KPI columns |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    marts = {**dbt_marts(), **NOT_DBT}
    for mart, (area, what, cited) in sorted(marts.items(), key=lambda m: (m[1][0], m[0])):
        grain, columns, entry = grains[mart]
        gained = gains.get(mart, [])
        entries = ([entry] if entry else []) + [e for _, e in gained]
        links = [f"[§{n}]({CATALOG_LINK}#{sections[n]})" for n in cited if not entry]
        links += [f"[§{number[kpis[e]]} {e}]({CATALOG_LINK}#{kpis[e]})" for e in entries]
        where = ", ".join(links)
        anchors = {**kpis, **{c: kpis[e] for c, e in gained}}
        columns = columns + [c for c, _ in gained]
        linked = [f"[{c}]({CATALOG_LINK}#{anchors[c]})" for c in columns if c in anchors]
        rows.append(
            f"| `{mart}` | {area} | {what} | {', '.join(grain)} | {where} | "
            f"{', '.join(linked) or 'see the catalog section'} |"
        )
    return "\n".join(rows)


def test_the_mart_table_in_docs_bi_is_current() -> None:
    text = BI_DOC.read_text(encoding="utf-8")
    table = text.split(START)[1].split(END)[0].strip()
    assert table == render_table(), "regenerate: .venv/bin/python tests/test_bi_docs.py"
    assert table.count("\n") - 1 == len(dbt_marts()) + len(NOT_DBT) == 41
    assert {*dbt_marts(), *NOT_DBT} == set(contract_grains(CONTRACT))


def test_every_catalog_link_points_at_a_catalog_heading() -> None:
    headings = {
        github_anchor(line.lstrip("#"))
        for line in CATALOG.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    links = re.findall(r"kpi-catalog\.md#([^)\s]+)", BI_DOC.read_text(encoding="utf-8"))
    assert links and set(links) <= headings


if __name__ == "__main__":
    sys.stdout.write(render_table() + "\n")
