"""Publish: copy the `marts` schema into the serving database that BI tools read, never the
working file (one writer; a half-built mart must not be seen). It runs last, only if no ERROR
check of its run failed, as a numbered version (`serving.py`) with a `marts._publish_log` row per
publish so far and the marts' dbt descriptions as comments."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import runguard, settings
from orchestration import serving as serving_files
from orchestration.assets import ops
from orchestration.ingest.loader import ident, sql_str
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

# DuckDB 2.x writes a format 1.x clients cannot open unless told otherwise; BI drivers lag.
SERVING_STORAGE_VERSION = "v1.0.0"
PUBLISH_KEY = dg.AssetKey(["serving", "marts"])
NEW_LOG = "serving_new.marts._publish_log"  # the log of the publish being built
SCHEMA_SQL = Path(__file__).with_name("serving_schema.sql")  # the serving file's tables, empty


class ServingResource(dg.ConfigurableResource):
    """The published folder (env SERVING_DIR); `keep` publishes (default SERVING_KEEP) are kept."""

    dir: str
    keep: int | None = None

    @property
    def resolved_dir(self) -> Path:
        return settings.resolve_path(self.dir)


@dataclass(frozen=True)
class PublishResult:
    version: int
    row_counts: dict[str, int]
    path: Path
    report: Path | None = None  # the current report.html, when it was drawn
    report_error: str | None = None  # why it was not (the publish went ahead regardless)


def _write_comments(conn: duckdb.DuckDBPyConnection, marts: list[str]) -> None:
    """COMMENT ON the tables and columns of serving_new.marts: the marts' dbt descriptions
    (persist_docs writes them to the working catalog; CREATE TABLE AS does not carry them)."""
    where = "WHERE database_name = current_database() AND schema_name = 'marts'"
    rows = conn.execute(
        f"SELECT table_name, NULL, comment FROM duckdb_tables() {where} "
        f"UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() {where}"
    ).fetchall()
    for table, column, text in rows:
        if table in marts and (text or "").strip():
            target = f"TABLE serving_new.marts.{ident(table)}"
            if column is not None:
                target = f"COLUMN serving_new.marts.{ident(table)}.{ident(column)}"
            conn.execute(f"COMMENT ON {target} IS {sql_str(text.strip())}")


def write_serving_copy(
    conn: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    run_id: str,
    marts: Iterable[str],
    checks_passed: int = 0,
    keep: int | None = None,
    report: bool = False,
    checks: list[tuple] | None = None,
) -> PublishResult:
    """Publish the marts of `conn` as the next version of `serving_dir` (unchanged if anything
    fails before the swap), with the `ops` schema (`checks`: ops.check_rows of the runs since
    the last publish); with `report`, the KPI report is drawn from the staged file too."""
    keep = keep if keep is not None else settings.get().serving_keep
    version = serving_files.next_version(serving_dir)
    history = serving_files.history_database(serving_dir)
    marts = sorted(marts)
    report_errors: list[str] = []

    def build(staging: Path) -> dict[str, int]:
        counts: dict[str, int] = {}
        database = staging / serving_files.DATABASE
        conn.execute(
            f"ATTACH {sql_str(str(database))} AS serving_new "
            f"(STORAGE_VERSION '{SERVING_STORAGE_VERSION}')"
        )
        if history is not None:
            conn.execute(f"ATTACH {sql_str(str(history))} AS prev (READ_ONLY)")
        try:
            conn.execute(SCHEMA_SQL.read_text())
            for mart in marts:
                table = f"serving_new.marts.{ident(mart)}"
                conn.execute(f"CREATE TABLE {table} AS SELECT * FROM marts.{ident(mart)}")
                parquet = staging / serving_files.PARQUET / f"{mart}.parquet"
                conn.execute(f"COPY {table} TO {sql_str(str(parquet))} (FORMAT parquet)")
                counts[mart] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            _write_comments(conn, marts)
            ops.write_ops(conn, checks or [])
            if ops.has_table(conn, "prev", "marts", "_publish_log"):  # older logs lack columns
                conn.execute(f"INSERT INTO {NEW_LOG} BY NAME SELECT * FROM prev.marts._publish_log")
            now = datetime.now(UTC).replace(tzinfo=None)
            row = [version, now, run_id, json.dumps(counts, sort_keys=True), checks_passed]
            row += [dg.__version__, duckdb.__version__, SERVING_STORAGE_VERSION]
            conn.execute(f"INSERT INTO {NEW_LOG} VALUES ({', '.join('?' * len(row))})", row)
            conn.execute(f"INSERT INTO serving_new.ops.publish_log SELECT * FROM {NEW_LOG}")
        finally:
            conn.execute("DETACH serving_new")
            conn.execute("DETACH DATABASE IF EXISTS prev")
        if report:  # a view of the marts, not part of them: a failed drawing never stops a publish
            from orchestration.report import write_report  # Altair and Vega: only when drawing

            try:
                write_report(database, staging / serving_files.REPORT)
            except Exception as exc:
                report_errors.append(f"{type(exc).__name__}: {exc}")
        return counts

    counts = serving_files.publish_version(serving_dir, version, build, keep)
    return PublishResult(
        version=version,
        row_counts=counts,
        path=serving_dir / serving_files.DATABASE,
        report=serving_dir / serving_files.REPORT if report and not report_errors else None,
        report_error=next(iter(report_errors), None),
    )


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
        own = ops.run_check_rows(context.instance, context.run.run_id)
        checks_passed = sum(passed for *_, passed, _ in own)
        failed = [
            f"{asset}:{check}"
            for _, _, asset, check, passed, severity in own
            if not passed and severity == "ERROR"
        ]
        if failed:
            reason = "not published: checks failed in this run: " + ", ".join(failed)
            raise dg.Failure(description=reason, allow_retries=False)
        history = serving_files.history_database(serving.resolved_dir)
        checks = ops.check_rows(context.instance, history)
        with runguard.PUBLISHING, warehouse.connect() as conn:
            if stopped := runguard.stop_requested():  # the run was stopped (`cli pipeline`)
                raise dg.Failure(description=f"not published: {stopped}", allow_retries=False)
            result = write_serving_copy(
                conn,
                serving.resolved_dir,
                context.run.run_id,
                [k.path[-1] for k in mart_keys],
                checks_passed=checks_passed,
                keep=serving.keep,
                report=True,
                checks=checks,
            )
        metadata = {
            "serving_database": str(result.path),
            "version": result.version,
            "storage_version": SERVING_STORAGE_VERSION,
            "checks_passed": checks_passed,
            "row_counts": dg.MetadataValue.json(result.row_counts),
        }
        if result.report is not None:
            metadata["report"] = dg.MetadataValue.path(str(result.report))
        else:
            context.log.warning(f"published without a KPI report: {result.report_error}")
            metadata["report_error"] = result.report_error
        return dg.MaterializeResult(metadata=metadata)

    return publish_marts
