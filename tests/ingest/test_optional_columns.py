"""The optional landing columns (`events.search_query`, `products.launch_date`).

A landing without them (the hand-written one predates them) validates and loads with NULLs; the
warehouse then counts them undelivered, so the dbt vars and the model metadata name them and the
marts requiring them are emptied. A raw table made before the columns existed gains them on the
next load, and a re-delivery still moves rows to raw_replaced. The raw GX suites pass on them
all NULL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import deployment, settings
from orchestration.assets import dbt as dbt_asset
from orchestration.contract import FEEDS, LINEAGE_COLUMNS
from orchestration.ingest.landing import discover_feed_files
from orchestration.ingest.loader import ensure_feed_tables, load_feed
from orchestration.quality.gx_validation import read_suite_file, validate_table
from orchestration.settings import EXPECTATIONS_DIR
from orchestration.validate_landing import validate

FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_landing"
EVENTS_HEADER = ",".join(FEEDS["events"].columns)
OPTIONAL = ("products.launch_date", "events.search_query")  # contract order
LOAD_ORDER = sorted(FEEDS, key=lambda name: bool(FEEDS[name].parents))  # parents first


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    return root


def load_all(conn: duckdb.DuckDBPyConnection, root: Path) -> None:
    for name in LOAD_ORDER:
        files = discover_feed_files(root, name)
        load_feed(conn, FEEDS[name], files, root, "test", references_schema="raw")


def test_the_contract_marks_exactly_the_two_columns_optional() -> None:
    optional = [f"{f.name}.{c}" for f in FEEDS.values() for c in f.optional]
    assert optional == ["products.launch_date", "events.search_query"]
    assert FEEDS["events"].columns["search_query"] == "VARCHAR"
    assert FEEDS["products"].columns["launch_date"] == "DATE"
    assert "search_query" not in (*FEEDS["events"].key, *FEEDS["events"].required)


def test_a_landing_without_them_validates_and_loads_with_nulls(landing: Path, conn) -> None:
    header = (landing / "events/dt=2025-03-01/events.csv").read_text().splitlines()[0]
    assert "search_query" not in header
    report = validate(landing, settings.get().deployment)
    about = [p for p in report.problems if p.feed in ("events", "products")]
    assert [p for p in about if p.severity != "info"] == []
    assert report.exit_code == 0
    load_all(conn, landing)
    assert conn.execute("SELECT count(*), count(search_query) FROM raw.events").fetchone()[1] == 0
    assert conn.execute("SELECT count(launch_date) FROM raw.products").fetchone() == (0,)
    assert deployment.undelivered_columns(conn) == OPTIONAL


def test_parquet_and_json_lines_without_them_load(landing: Path, conn) -> None:
    """The same files as parquet (products; p1 again with a launch date in a later delivery)
    and JSON lines (events): absent, the column is NULL and no file or key is reported."""
    for feed, fmt in (("products", "parquet"), ("events", "json")):
        for path in sorted((landing / feed).glob("dt=*/*.csv")):
            target = path.with_suffix(".parquet" if fmt == "parquet" else ".jsonl")
            options = "FORMAT parquet" if fmt == "parquet" else "FORMAT json"
            read = f"read_csv('{path}', all_varchar=true, hive_partitioning=false)"
            conn.execute(f"COPY (SELECT * FROM {read}) TO '{target}' ({options})")
            path.unlink()
    first = landing / "products/dt=2025-02-20/products.parquet"
    later = landing / "products/dt=2025-03-03/products.parquet"
    later.parent.mkdir()
    conn.execute(
        "COPY (SELECT * REPLACE ('2025-03-03 00:00:00' AS updated_ts), "
        "DATE '2025-03-01' AS launch_date "
        f"FROM read_parquet('{first}', hive_partitioning=false) "
        f"WHERE product_id = 'p1') TO '{later}' (FORMAT parquet)"
    )
    report = validate(landing, settings.get().deployment)
    assert [p for p in report.problems if p.feed in ("events", "products")] == []
    load_all(conn, landing)
    launches = conn.execute(
        "SELECT _partition_dt, launch_date FROM raw.products WHERE product_id = 'p1' ORDER BY 1"
    ).fetchall()
    assert [(str(dt), str(d)) for dt, d in launches] == [
        ("2025-02-20", "None"),
        ("2025-03-03", "2025-03-01"),
    ]
    assert conn.execute("SELECT count(search_query) FROM raw.events").fetchall() == [(0,)]
    assert deployment.undelivered_columns(conn) == ("events.search_query",)


def test_a_required_column_is_still_required(landing: Path, conn) -> None:
    path = landing / "events/dt=2025-03-01/events.csv"
    path.write_text(path.read_text().replace("visitor_id,", "", 1))
    report = validate(landing, settings.get().deployment)
    (problem,) = [p for p in report.problems if p.kind == "missing_column"]
    assert "visitor_id" in problem.message and "search_query" not in problem.message


def test_delivered_values_are_read_and_staged_columns_count_delivered(landing: Path, conn) -> None:
    (landing / "events/dt=2025-03-03").mkdir()
    (landing / "events/dt=2025-03-03/events.csv").write_text(
        f"{EVENTS_HEADER}\ne90,2025-03-03 10:00:00,v1,c1,search,search,,,,desktop,,,,, Red Shoes \n"
    )
    load_all(conn, landing)
    row = conn.execute("SELECT search_query FROM raw.events WHERE event_id = 'e90'").fetchone()
    assert row == (" Red Shoes ",)  # raw as delivered; staging lower-cases and trims
    assert deployment.undelivered_columns(conn) == ("products.launch_date",)


def test_the_dbt_vars_name_the_undelivered_columns(landing: Path, conn) -> None:
    load_all(conn, landing)
    manifest = Path(dbt_asset.dbt_project().manifest_path)
    plan = dbt_asset.plan_build(conn, manifest)
    assert plan.dbt_vars["undelivered_feeds"] == list(OPTIONAL)
    args = dbt_asset.dbt_cli_args(plan)
    assert '"events.search_query"' in args[args.index("--vars") + 1]
    # Delivering the column changes the vars, hence the project hash: a full refresh next.
    assert plan.project_hash != dbt_asset.project_hash(manifest, deployment.dbt_vars())


def test_search_terms_is_emptied_and_says_so(landing: Path, conn) -> None:
    load_all(conn, landing)
    columns = deployment.undelivered_columns(conn)
    _, required = deployment.lineage()
    marts = [t for t, needs in required.items() if "events.search_query" in needs]
    assert "marts.search_terms" in marts
    meta = deployment.missing_feeds_metadata("marts.search_terms", columns=columns)
    assert meta["missing_feeds"].split(", ") == ["events.search_query"]
    assert meta["emptied_for_missing_feeds"] == "events.search_query"
    assert meta["complete_inputs"] is False
    delivered = deployment.missing_feeds_metadata("marts.search_terms", columns=())
    assert (delivered["missing_feeds"], delivered["complete_inputs"]) == ("", True)

    event = dg.AssetMaterialization(asset_key=["marts", "search_terms"])
    (annotated,) = deployment.annotate_dbt_events([event], None, columns)
    assert annotated.metadata["missing_feeds"].value == "events.search_query"

    suite = read_suite_file(EXPECTATIONS_DIR / "marts.search_terms.json")
    kept, reason = deployment.suite_for_deployment(suite, conn)
    assert reason is not None and "events.search_query" in reason
    assert "expect_table_row_count_to_be_between" not in {e["type"] for e in kept.expectations}


def old_shape(feed: str) -> str:
    """DDL of the raw table as the contract before the optional columns made it."""
    cols = {c: t for c, t in FEEDS[feed].columns.items() if c not in FEEDS[feed].optional}
    body = ", ".join(f"{c} {t}" for c, t in {**cols, **LINEAGE_COLUMNS}.items())
    return f"CREATE TABLE raw.{feed} ({body})"


def test_an_older_raw_table_gains_the_column_and_keeps_loading(landing: Path, conn) -> None:
    conn.execute("CREATE SCHEMA raw")
    conn.execute("CREATE SCHEMA raw_replaced")
    conn.execute(old_shape("events"))
    replaced = old_shape("events").replace("raw.events (", "raw_replaced.events (")
    conn.execute(replaced.removesuffix(")") + ", _replaced_at TIMESTAMP, _replaced_by VARCHAR)")
    files = discover_feed_files(landing, "events")
    first = load_feed(conn, FEEDS["events"], files, landing, "first")
    columns = [r[0] for r in conn.execute("DESCRIBE raw.events").fetchall()]
    assert columns[-1] == "search_query"  # added last, after the lineage
    replaced_columns = [r[0] for r in conn.execute("DESCRIBE raw_replaced.events").fetchall()]
    assert replaced_columns[-1] == "search_query"

    # A re-delivery of dt=2025-03-02 with the column: changed rows move to raw_replaced.
    day = landing / "events/dt=2025-03-02/events.csv"
    body = day.read_text().splitlines()[1:]
    day.write_text("\n".join([f"{EVENTS_HEADER}", *(f"{line},shoes" for line in body)]) + "\n")
    second = load_feed(conn, FEEDS["events"], files, landing, "second")
    assert second.rows_replaced == len(body) and second.rows_in_raw == first.rows_in_raw
    assert conn.execute(
        "SELECT count(*) FROM raw.events WHERE search_query = 'shoes' AND _load_id = 'second'"
    ).fetchone() == (len(body),)
    assert conn.execute(
        "SELECT count(*) FROM raw_replaced.events WHERE _replaced_by = 'second' "
        "AND _load_id = 'first' AND search_query IS NULL"
    ).fetchone() == (len(body),)
    ensure_feed_tables(conn, FEEDS["events"])  # idempotent
    assert len(conn.execute("DESCRIBE raw.events").fetchall()) == len(columns)


@pytest.mark.parametrize("backend", ["pandas", "sql"])
def test_the_raw_suites_pass_with_the_columns_all_null(landing: Path, conn, backend: str) -> None:
    load_all(conn, landing)
    for feed in ("events", "products"):
        suite = read_suite_file(EXPECTATIONS_DIR / f"raw.{feed}.json")
        result = validate_table(conn.cursor(), suite, backend=backend)
        assert result.row_count > 0
        assert result.failed() == [], feed
