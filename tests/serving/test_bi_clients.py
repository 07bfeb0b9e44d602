"""Real BI clients against a real publish: the session sample run's `SERVING_DIR`.

- SQLAlchemy 2 with duckdb-engine and the plain `duckdb://` URL (what Superset, Metabase-style
  tools and pandas `read_sql` use), read-only: every mart's count and a typed column, table
  reflection, and the column reflection that is broken upstream (documented in docs/bi.md).
- The DuckDB CLI (PyPI `duckdb-cli`, a 1.x binary: a second old-client check) with `-readonly`.
- pandas and polars reading every mart's Parquet file: row counts equal the publish log, money
  columns stay DECIMAL(18,2).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import sqlalchemy as sa
from conftest import SampleRun

from orchestration import serving

pytestmark = pytest.mark.slow

MONEY = "DECIMAL(18,2)"


def _column_types(database: Path) -> dict[str, dict[str, str]]:
    """{mart: {column: DuckDB type}} of the published marts (without the publish log)."""
    conn = duckdb.connect(str(database), read_only=True)
    try:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name <> '_publish_log' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        conn.close()
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        types.setdefault(table, {})[column] = data_type
    return types


@pytest.fixture(scope="module")
def published(sample_run: SampleRun) -> tuple[Path, dict[str, int], dict[str, dict[str, str]]]:
    """The current serving.duckdb, its newest publish log counts and its column types."""
    database = sample_run.serving / serving.DATABASE
    log = serving.read_log(database)[-1]
    counts = json.loads(log["row_counts"])
    types = _column_types(database)
    assert len(counts) >= 29 and set(counts) == set(types)
    return database, counts, types


def _first(types: dict[str, str], prefix: str) -> str | None:
    return next((c for c, t in types.items() if t.startswith(prefix)), None)


# --- SQLAlchemy + duckdb-engine ---------------------------------------------------------------


@pytest.fixture
def engine(published) -> Iterator[sa.Engine]:
    database = published[0]
    # The URL a BI tool is given: plain `duckdb://` (not the repo's GX-only `duckdb+buffered`),
    # four slashes for an absolute path, read-only through connect_args.
    # Disposed after each test: duckdb-engine's pooled connection sets its own options, and
    # DuckDB refuses a second connection to one file with other options in the same process.
    engine = sa.create_engine(f"duckdb:///{database}", connect_args={"read_only": True})
    yield engine
    engine.dispose()


def test_sqlalchemy_reads_every_mart_with_its_types(engine: sa.Engine, published) -> None:
    _, counts, types = published
    assert engine.dialect.name == "duckdb" and engine.dialect.driver == "duckdb_engine"
    python_type = {"DECIMAL": Decimal, "DATE": dt.date, "BIGINT": int, "DOUBLE": float}
    checked_types = 0
    with engine.connect() as conn:
        for mart, expected in sorted(counts.items()):
            count = conn.execute(sa.text(f'SELECT count(*) FROM marts."{mart}"')).scalar_one()
            assert count == expected, mart
            # One typed column per mart: money first, then a date, a count, a ratio.
            for prefix, kind in python_type.items():
                column = _first(types[mart], prefix)
                if column is None:
                    continue
                value = conn.execute(
                    sa.text(f'SELECT "{column}" FROM marts."{mart}" WHERE "{column}" IS NOT NULL')
                ).first()
                if value is not None:
                    assert isinstance(value[0], kind), (mart, column, type(value[0]))
                    checked_types += 1
                break
    assert checked_types >= len(counts) - 2  # a mart may have no non-NULL value in the sample


def test_sqlalchemy_connection_is_read_only(engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        conn.execute(sa.text("CREATE TABLE marts.bi_scratch AS SELECT 1 AS x"))


def test_sqlalchemy_reflects_schemas_and_tables(engine: sa.Engine, published) -> None:
    _, counts, _ = published
    inspector = sa.inspect(engine)
    # duckdb-engine names schemas `<catalog>.<schema>`; the catalog is the file name: `serving`.
    assert "serving.marts" in inspector.get_schema_names()
    assert set(inspector.get_table_names(schema="marts")) == {*counts, "_publish_log"}
    assert inspector.get_view_names(schema="marts") == []


def test_sqlalchemy_column_reflection_is_broken_upstream(engine: sa.Engine) -> None:
    """Known bug: SQLAlchemy >= 2.0.45's PostgreSQL column query joins pg_catalog.pg_collation,
    which DuckDB 2.0.1 does not emulate (duckdb/duckdb#22069; duckdb-engine #1379, fix PR #1393
    open). When this starts passing, update "Column metadata" in docs/bi.md and turn this into a
    get_columns test."""
    inspector = sa.inspect(engine)
    with pytest.raises(sa.exc.ProgrammingError, match="pg_collation"):
        inspector.get_columns("daily_sales", schema="marts")


def test_what_bi_tools_use_instead_of_column_reflection(engine: sa.Engine, published) -> None:
    """The two workarounds docs/bi.md gives: a query's cursor description (a SQL/virtual dataset)
    and information_schema.columns, both through the same read-only engine."""
    _, counts, types = published
    with engine.connect() as conn:
        for mart in counts:
            result = conn.execute(sa.text(f'SELECT * FROM marts."{mart}" LIMIT 0'))
            assert list(result.keys()) == list(types[mart]), mart
        described = conn.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'marts' AND table_name <> '_publish_log'"
            )
        ).all()
    assert {(t, c): d for t, c, d in described} == {
        (t, c): d for t, cols in types.items() for c, d in cols.items()
    }


# --- DuckDB CLI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duckdb_cli() -> str:
    # The dev extra pins `duckdb-cli`, whose wheel ships the CLI binary into the venv's bin/.
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("the duckdb CLI is not in the venv: `make install` (dev extra duckdb-cli)")
    return found


def _cli(cli: str, database: Path, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [cli, "-readonly", "-json", str(database), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_duckdb_cli_reads_every_mart_read_only(duckdb_cli: str, published) -> None:
    database, counts, types = published
    version = subprocess.run(
        [duckdb_cli, "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert version.startswith("v1."), version  # a 1.x client: the storage v1.0.0 promise
    union = " UNION ALL ".join(
        f"SELECT '{m}' AS mart, count(*) AS n FROM marts.\"{m}\"" for m in sorted(counts)
    )
    proc = _cli(duckdb_cli, database, union)
    assert proc.returncode == 0, proc.stderr
    assert {r["mart"]: r["n"] for r in json.loads(proc.stdout)} == counts

    proc = _cli(
        duckdb_cli, database, "SELECT CAST(sum(gmv) AS VARCHAR) AS gmv FROM marts.daily_sales"
    )
    assert proc.returncode == 0, proc.stderr
    conn = duckdb.connect(str(database), read_only=True)
    try:
        (gmv,) = conn.execute("SELECT CAST(sum(gmv) AS VARCHAR) FROM marts.daily_sales").fetchone()
    finally:
        conn.close()
    assert json.loads(proc.stdout) == [{"gmv": gmv}]
    assert types["daily_sales"]["gmv"] == MONEY

    proc = _cli(duckdb_cli, database, "CREATE TABLE marts.bi_scratch AS SELECT 1 AS x")
    assert proc.returncode != 0 and "read-only" in proc.stderr, proc.stderr


# --- Parquet: pandas, polars --------------------------------------------------------------------


def _money_columns(types: dict[str, str]) -> list[str]:
    return [c for c, t in types.items() if t == MONEY]


def test_pandas_reads_every_parquet_file(sample_run: SampleRun, published) -> None:
    _, counts, types = published
    money_checked = 0
    for mart, expected in counts.items():
        path = sample_run.serving / serving.PARQUET / f"{mart}.parquet"
        frame = pd.read_parquet(path)
        assert len(frame) == expected, mart
        assert list(frame.columns) == list(types[mart]), mart
        money = _money_columns(types[mart])
        if money:
            arrow = pd.read_parquet(path, columns=money, dtype_backend="pyarrow")
            for column in money:
                assert arrow[column].dtype == pd.ArrowDtype(pa.decimal128(18, 2)), (mart, column)
                values = frame[column].dropna()
                assert all(isinstance(v, Decimal) for v in values), (mart, column)
                money_checked += 1
    assert money_checked >= 10


def test_polars_reads_every_parquet_file(sample_run: SampleRun, published) -> None:
    database, counts, types = published
    conn = duckdb.connect(str(database), read_only=True)
    try:
        for mart, expected in counts.items():
            path = sample_run.serving / serving.PARQUET / f"{mart}.parquet"
            frame = pl.read_parquet(path)
            assert frame.height == expected, mart
            assert frame.columns == list(types[mart]), mart
            assert pl.scan_parquet(path).select(pl.len()).collect().item() == expected, mart
            for column in _money_columns(types[mart]):
                assert frame.schema[column] == pl.Decimal(18, 2), (mart, column)
                (total,) = conn.execute(f'SELECT sum("{column}") FROM marts."{mart}"').fetchone()
                assert frame[column].sum() == (total or Decimal(0)), (mart, column)
    finally:
        conn.close()
