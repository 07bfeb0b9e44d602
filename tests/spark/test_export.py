"""The raw-table export for the Spark target and the one setting that picks the dbt target.

Fast (no Spark): real DuckDB files in, real Parquet out, read back by DuckDB.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration import settings
from orchestration.assets.dbt import dbt_resource
from orchestration.spark.build import dbt_spark_command, spark_env
from orchestration.spark.export import export_raw


def _warehouse(path: Path, with_replaced: bool) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw.orders as select 'o1' as order_id, "
            "timestamp '2025-01-01 23:30:00' as order_ts, date '2025-01-02' as _partition_dt, "
            "cast(12.34 as decimal(18,2)) as discount_amount, 3::bigint as _source_row"
        )
        con.execute("create table raw.events as select 'e1' as event_id where false")
        if with_replaced:
            con.execute("create schema raw_replaced")
            con.execute("create table raw_replaced.orders as select * from raw.orders")
    return path


def test_export_writes_each_raw_table_as_parquet_with_its_types(tmp_path: Path):
    warehouse = _warehouse(tmp_path / "wh.duckdb", with_replaced=True)
    exported = export_raw(warehouse, tmp_path / "raw")
    assert {(t.schema, t.table, t.rows) for t in exported} == {
        ("raw", "events", 0),
        ("raw", "orders", 1),
        ("raw_replaced", "orders", 1),
    }
    path = tmp_path / "raw" / "raw" / "orders" / "data.parquet"
    with duckdb.connect() as con:
        rel = con.sql(f"select * from read_parquet('{path}')")
        # naive timestamps stay naive (Spark reads them unshifted with session time zone UTC)
        assert [str(t) for t in rel.types] == [
            "VARCHAR", "TIMESTAMP", "DATE", "DECIMAL(18,2)", "BIGINT"
        ]  # fmt: skip
        assert rel.fetchall()[0][3] == Decimal("12.34")
    # an empty table still gets a Parquet file (with its schema)
    assert (tmp_path / "raw" / "raw" / "events" / "data.parquet").is_file()


def test_export_handles_an_absent_raw_replaced_and_drops_stale_tables(tmp_path: Path):
    stale = tmp_path / "raw" / "raw_replaced" / "orders"
    stale.mkdir(parents=True)
    (stale / "data.parquet").write_bytes(b"stale")
    warehouse = _warehouse(tmp_path / "wh.duckdb", with_replaced=False)
    exported = export_raw(warehouse, tmp_path / "raw")
    assert {t.schema for t in exported} == {"raw"}
    assert not (tmp_path / "raw" / "raw_replaced").exists()


def test_dbt_target_is_one_setting(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DBT_TARGET", raising=False)
    assert settings.get().dbt_target == "duckdb"
    assert dbt_resource().target == "duckdb"
    monkeypatch.setenv("DBT_TARGET", "Spark")
    assert settings.get().dbt_target == "spark"
    assert dbt_resource().target == "spark"


def test_spark_build_keeps_its_state_in_spark_dir(tmp_path: Path):
    env = spark_env(tmp_path)
    assert env["DBT_TARGET"] == "spark" and env["SPARK_DIR"] == str(tmp_path)
    assert (tmp_path / "conf" / "log4j2.properties").is_file()
    cmd = dbt_spark_command(tmp_path)
    assert cmd[1:4] == ["build", "--target", "spark"] and "--full-refresh" in cmd
    # the unit tests of the incremental branch run on DuckDB only
    assert cmd[cmd.index("--exclude") + 1] == "tag:incremental_only"
    # the DuckDB manifest in dbt_project/target (read by Dagster) is never overwritten
    assert cmd[cmd.index("--target-path") + 1] == str(tmp_path / "dbt_target")
