"""The blocking check on `serving/marts`: what BI tools read is what the publish recorded.

`serving.duckdb`, opened read-only, must match its newest `marts._publish_log` row: this run's,
kept under `versions/v<N>/`, each mart a table and a `parquet/<mart>.parquet` of the logged row
count and the same columns.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import serving as serving_files
from orchestration.assets.publish import PUBLISH_KEY, ServingResource

CHECK_NAME = "serving_matches_publish_log"


def _mart_problems(
    conn: duckdb.DuckDBPyConnection, serving_dir: Path, mart: str, expected: int
) -> list[str]:
    """How the table and the Parquet file of one mart differ from the publish log."""
    parquet = serving_dir / "parquet" / f"{mart}.parquet"
    escaped = str(parquet).replace("'", "''")
    sources = {f"marts.{mart}": f'marts."{mart}"', parquet.name: f"read_parquet('{escaped}')"}
    problems, columns = [], []
    for name, source in sources.items():
        try:
            columns.append(conn.sql(f"SELECT * FROM {source}").columns)
            (rows,) = conn.execute(f"SELECT count(*) FROM {source}").fetchall()[0]
        except duckdb.Error as exc:
            return [*problems, f"{name} cannot be read: {exc}"]
        if rows != expected:
            problems.append(f"{name} has {rows} rows, the publish log says {expected}")
    if columns[0] != columns[1]:
        problems.append(f"{parquet.name} columns {columns[1]} differ from {columns[0]}")
    return problems


def verify_serving(
    serving_dir: Path, marts: Iterable[str], run_id: str | None = None
) -> tuple[list[str], dict[str, int]]:
    """The problems of the serving copy (with `run_id`: its log names that run) and its counts."""
    database = serving_dir / serving_files.DATABASE
    try:
        conn = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        return [f"{database} does not open read-only: {exc}"], {}
    with conn:
        try:
            log = conn.execute(
                "SELECT version, run_id, CAST(row_counts AS VARCHAR) FROM marts._publish_log "
                "WHERE version IS NOT NULL ORDER BY version DESC LIMIT 1"
            ).fetchall()
        except duckdb.Error as exc:
            return [f"marts._publish_log cannot be read: {exc}"], {}
        if not log:
            return ["marts._publish_log has no versioned row"], {}
        (version, logged_run, counts_json), problems = log[0], []
        counts = {str(k): int(v) for k, v in json.loads(counts_json).items()}
        if run_id is not None and logged_run != run_id:
            problem = f"the publish log's version {version} is from run {logged_run}"
            problems.append(f"{problem}, not this run {run_id}")
        kept = serving_files.version_dir(serving_dir, version) / serving_files.DATABASE
        if not kept.is_file():
            problems.append(f"version {version} is not kept: {kept} does not exist")
        for mart in sorted(set(marts)):
            if mart not in counts:
                problems.append(f"marts.{mart} is not in the publish log")
            else:
                problems += _mart_problems(conn, serving_dir, mart, counts[mart])
    return problems, counts


def build_publish_check(mart_keys: Iterable[dg.AssetKey]) -> dg.AssetChecksDefinition:
    """The blocking check of `serving/marts` over the marts `mart_keys`."""
    marts = sorted(k.path[-1] for k in mart_keys)

    @dg.asset_check(
        asset=PUBLISH_KEY,
        name=CHECK_NAME,
        blocking=True,
        description="The serving database opens read-only and holds every mart with the row "
        "count of its publish log; each Parquet file has the same rows and columns.",
    )
    def serving_matches_publish_log(
        context: dg.AssetCheckExecutionContext, serving: ServingResource
    ) -> dg.AssetCheckResult:
        problems, counts = verify_serving(serving.resolved_dir, marts, context.run.run_id)
        description = f"All {len(marts)} marts published with their logged row counts."
        if problems:
            shown = problems[:5] + ([f"and {len(problems) - 5} more"] if len(problems) > 5 else [])
            description = f"{len(problems)} problems in the serving copy: " + "; ".join(shown)
        database = serving.resolved_dir / serving_files.DATABASE
        return dg.AssetCheckResult(
            passed=not problems,
            description=description,
            metadata={
                "serving_database": dg.MetadataValue.path(str(database)),
                "marts": len(marts),
                "problems": problems,
                "row_counts": counts,
            },
        )

    return serving_matches_publish_log
