"""The published serving.duckdb carries the dbt descriptions as table and column comments.

BI tools that browse the catalog show these comments, so they must say what a column means
(`refunds` is refund-day money, `refund_rate` an order-day cohort ratio). The end-to-end test
reads the session sample run's publish through the DuckDB 1.x CLI (PyPI `duckdb-cli`, the client
the storage v1.0.0 promise is for): every table of schema `marts` and every column has a
non-empty comment, and each mart's comments equal the descriptions in the dbt manifest. A quick
test publishes a hand-made mart whose names and comments need quoting.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import SampleRun

from orchestration import serving, settings
from orchestration.assets import churn as churn_asset
from orchestration.assets.publish import write_serving_copy

MANIFEST = settings.DBT_PROJECT_DIR / "target" / "manifest.json"


def _duckdb_cli() -> str:
    # The dev extra pins `duckdb-cli`, whose wheel ships the CLI binary into the venv's bin/.
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("the duckdb CLI is not in the venv: `make install` (dev extra duckdb-cli)")
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert version.startswith("v1."), version  # a 1.x client: the storage v1.0.0 promise
    return found


def _cli_rows(database: Path, sql: str) -> list[dict]:
    """The rows of `sql` run read-only by the DuckDB 1.x CLI against `database`."""
    proc = subprocess.run(
        [_duckdb_cli(), "-readonly", "-json", str(database), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else []


LOG_COLUMNS = {"version", "published_at", "run_id", "row_counts", "checks_passed"}
LOG_COLUMNS |= {"dagster_version", "duckdb_version", "storage_version"}


def assert_log_commented(found: dict[str, dict[str | None, str | None]]) -> None:
    """marts._publish_log and each of its columns have a comment (serving_schema.sql)."""
    assert set(found["_publish_log"]) == {None, *LOG_COLUMNS}  # None: the table
    assert all(found["_publish_log"].values()), found["_publish_log"]


def _comments(database: Path) -> dict[str, dict[str | None, str | None]]:
    """{table: {None: table comment, column: column comment}} of schema marts."""
    tables = _cli_rows(
        database,
        "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts'",
    )
    columns = _cli_rows(
        database,
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts'",
    )
    found: dict[str, dict[str | None, str | None]] = {r["table_name"]: {} for r in tables}
    for row in tables:
        found[row["table_name"]][None] = row["comment"]
    for row in columns:
        found[row["table_name"]][row["column_name"]] = row["comment"]
    return found


def _dbt_descriptions() -> dict[str, dict[str | None, str]]:
    """{mart: {None: model description, column: column description}} from the dbt manifest."""
    manifest = json.loads(MANIFEST.read_text())
    return {
        node["name"]: {
            None: node["description"].strip(),
            **{c["name"]: (c.get("description") or "").strip() for c in node["columns"].values()},
        }
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }


@pytest.mark.slow
def test_every_published_table_and_column_has_its_dbt_description(
    sample_run: SampleRun,
) -> None:
    found = _comments(sample_run.serving / serving.DATABASE)
    marts = set(found) - {"_publish_log"}
    assert len(marts) >= 29 and "_publish_log" in found
    empty = [
        f"{table}.{column or '<table>'}"
        for table, comments in found.items()
        for column, comment in comments.items()
        if not (comment or "").strip()
    ]
    assert empty == []

    dbt = _dbt_descriptions()
    # churn_risk is a Python asset: its comments are the asset's own (an empty mart says why).
    churn = found.pop("churn_risk")
    assert churn.pop(None).startswith(churn_asset.TABLE_COMMENT)
    assert churn == {column: doc for column, (_, doc) in churn_asset.COLUMNS.items()}
    assert marts - {"churn_risk"} == set(dbt)
    for mart in sorted(dbt):
        assert found[mart] == dbt[mart], mart
    assert found["daily_sales"]["refunds"] == dbt["daily_sales"]["refunds"]
    assert "refund-day" in found["daily_sales"]["refunds"]
    assert found["daily_sales"]["refund_rate"].startswith("Order-day cohort")
    assert_log_commented(found)


def test_comments_that_need_quoting_are_carried(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        conn.execute("CREATE SCHEMA marts")
        conn.execute('CREATE TABLE marts."it\'s" ("a ""b""" INTEGER, plain INTEGER)')
        conn.execute("COMMENT ON TABLE marts.\"it's\" IS 'the shop''s \"mart\"\n'")
        conn.execute('COMMENT ON COLUMN marts."it\'s"."a ""b""" IS \'it\'\'s a; b\'')
        write_serving_copy(conn, tmp_path / "serving", "run-1", ["it's"])
    finally:
        conn.close()
    found = _comments(tmp_path / "serving" / serving.DATABASE)
    # Trailing whitespace (YAML block scalars) is dropped; a column without a comment stays so.
    assert found["it's"] == {None: 'the shop\'s "mart"', 'a "b"': "it's a; b", "plain": None}
    assert_log_commented(found)
