"""Publish: copy the `marts` schema into a serving database that BI tools read.

BI tools never open the working file (DuckDB allows one writer, and a half-built mart must not be
seen). Publish runs last and verifies that every asset check of its run passed: a failed dbt test
check does not by itself stop a downstream Python asset (dagster #25112), so the gate is here too.
The copy is written to a temporary name in the serving folder, fsynced and renamed over the old
file, so a reader sees either the previous publish or the new one, never a mix.
"""

import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

# DuckDB 2.x writes a format 1.x clients cannot open unless told otherwise; BI drivers lag.
SERVING_STORAGE_VERSION = "v1.0.0"
PUBLISH_KEY = dg.AssetKey(["serving", "marts"])


class ServingResource(dg.ConfigurableResource):
    """Folder of the published serving database and Parquet files (env SERVING_DIR)."""

    dir: str = settings.DEFAULT_SERVING_DIR

    @property
    def resolved_dir(self) -> Path:
        p = Path(self.dir).expanduser()
        return p if p.is_absolute() else settings.REPO_ROOT / p


def failed_checks_of_run(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Checks evaluated in this run that failed with severity ERROR."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    return failed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_serving_copy(
    conn: duckdb.DuckDBPyConnection, serving_dir: Path, run_id: str, marts: Iterable[str]
) -> dict[str, int]:
    """Copy the marts into `<serving_dir>/serving.duckdb` and `parquet/`, swapping atomically.

    The file is not called `marts.duckdb`: DuckDB names the catalog after the file, and a catalog
    `marts` holding a schema `marts` makes every `marts.<table>` reference ambiguous.
    """
    serving_dir.mkdir(parents=True, exist_ok=True)
    target = serving_dir / "serving.duckdb"
    tmp = serving_dir / f".serving.{run_id}.duckdb.tmp"
    parquet_tmp = serving_dir / f".parquet.{run_id}.tmp"
    tmp.unlink(missing_ok=True)
    shutil.rmtree(parquet_tmp, ignore_errors=True)
    parquet_tmp.mkdir()
    counts: dict[str, int] = {}
    conn.execute(f"ATTACH '{tmp}' AS serving (STORAGE_VERSION '{SERVING_STORAGE_VERSION}')")
    try:
        conn.execute("CREATE SCHEMA serving.marts")
        for mart in sorted(marts):
            conn.execute(f'CREATE TABLE serving.marts."{mart}" AS SELECT * FROM marts."{mart}"')
            conn.execute(
                f"COPY marts.\"{mart}\" TO '{parquet_tmp / (mart + '.parquet')}' (FORMAT parquet)"
            )
            counts[mart] = conn.execute(f'SELECT count(*) FROM marts."{mart}"').fetchone()[0]
        conn.execute(
            "CREATE TABLE serving.marts._publish_log AS SELECT "
            "? AS run_id, CAST(? AS TIMESTAMP) AS published_at, CAST(? AS JSON) AS row_counts",
            [run_id, datetime.now(UTC).replace(tzinfo=None), str(counts).replace("'", '"')],
        )
    finally:
        conn.execute("DETACH serving")
    _fsync(tmp)
    os.replace(tmp, target)
    parquet_dir = serving_dir / "parquet"
    for file in parquet_tmp.iterdir():
        parquet_dir.mkdir(exist_ok=True)
        os.replace(file, parquet_dir / file.name)
    parquet_tmp.rmdir()
    return counts


def build_publish_asset(mart_keys: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    mart_keys = sorted(mart_keys, key=lambda k: k.to_user_string())

    @dg.asset(
        key=PUBLISH_KEY,
        deps=mart_keys,
        group_name="serving",
        kinds={"duckdb", "parquet"},
        pool=WAREHOUSE_POOL,
        description="The marts, published for BI tools into SERVING_DIR after every check passed.",
    )
    def publish_marts(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, serving: ServingResource
    ) -> dg.MaterializeResult:
        failed = failed_checks_of_run(context.instance, context.run_id)
        if failed:
            raise dg.Failure(
                description="not published: checks failed in this run: " + ", ".join(failed),
                allow_retries=False,
            )
        with warehouse.connect() as conn:
            counts = write_serving_copy(
                conn, serving.resolved_dir, context.run_id, [k.path[-1] for k in mart_keys]
            )
        return dg.MaterializeResult(
            metadata={
                "serving_database": str(serving.resolved_dir / "serving.duckdb"),
                "storage_version": SERVING_STORAGE_VERSION,
                "row_counts": dg.MetadataValue.json(counts),
            }
        )

    return publish_marts
