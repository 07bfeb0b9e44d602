"""The blocking check on `serving/marts`: what BI tools read is what the publish recorded.

After the publish asset swapped in `serving.duckdb` and `parquet/`, this check opens the
serving database **read-only** (as a BI tool does, so a file only the writer could open fails
here) and verifies, against the newest `marts._publish_log` row (the current version; the rows
before it are the earlier publishes, carried over):

- the log's newest row belongs to this run (a failed swap would leave the previous publish);
- that version is kept under `versions/v<N>/` (so a later rollback can come back to it);
- every mart of the definitions is in the log, and the database holds each one as a table with
  the logged row count;
- each `parquet/<mart>.parquet` has the logged row count and the table's column names.

Nothing is downstream of `serving/marts` inside Dagster, but the check is blocking all the same:
a failure fails the run (`make pipeline` exits non-zero) and marks the publish as bad in the UI.
"""

import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import serving as serving_files
from orchestration.assets.publish import PUBLISH_KEY, ServingResource

CHECK_NAME = "serving_matches_publish_log"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def verify_serving(
    serving_dir: Path, marts: Iterable[str], run_id: str | None = None
) -> tuple[list[str], dict[str, int]]:
    """Problems found in the published serving copy (empty: it is sound), and the logged counts.

    `run_id`: when given, the newest publish log row must name this run.
    """
    database = serving_dir / "serving.duckdb"
    if not database.exists():
        return [f"{database} does not exist"], {}
    try:
        conn = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        return [f"{database} does not open read-only: {exc}"], {}
    problems: list[str] = []
    try:
        try:
            log = conn.execute(
                "SELECT version, run_id, CAST(row_counts AS VARCHAR) FROM marts._publish_log "
                "ORDER BY version DESC NULLS LAST LIMIT 1"
            ).fetchall()
        except duckdb.Error as exc:
            return [f"marts._publish_log cannot be read: {exc}"], {}
        if not log or log[0][0] is None:
            return ["marts._publish_log has no versioned row"], {}
        version, logged_run, counts_json = log[0]
        counts = {str(k): int(v) for k, v in json.loads(counts_json).items()}
        if run_id is not None and logged_run != run_id:
            problems.append(
                f"the publish log's version {version} is from run {logged_run}, "
                f"not this run {run_id}"
            )
        kept = serving_files.version_dir(serving_dir, version) / serving_files.DATABASE
        if not kept.is_file():
            problems.append(f"version {version} is not kept: {kept} does not exist")
        for mart in sorted(set(marts)):
            if mart not in counts:
                problems.append(f"marts.{mart} is not in the publish log")
                continue
            expected = counts[mart]
            try:
                (rows,) = conn.execute(f"SELECT count(*) FROM marts.{_quote(mart)}").fetchone()
                columns = [r[0] for r in conn.execute(f"DESCRIBE marts.{_quote(mart)}").fetchall()]
            except duckdb.Error as exc:
                problems.append(f"marts.{mart} cannot be read: {exc}")
                continue
            if rows != expected:
                problems.append(f"marts.{mart} has {rows} rows, the publish log says {expected}")
            parquet = serving_dir / "parquet" / f"{mart}.parquet"
            if not parquet.exists():
                problems.append(f"{parquet} does not exist")
                continue
            escaped = str(parquet).replace("'", "''")
            source = f"read_parquet('{escaped}')"
            try:
                (parquet_rows,) = conn.execute(f"SELECT count(*) FROM {source}").fetchone()
                parquet_columns = [
                    r[0] for r in conn.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                ]
            except duckdb.Error as exc:
                problems.append(f"{parquet} cannot be read: {exc}")
                continue
            if parquet_rows != expected:
                problems.append(
                    f"{parquet.name} has {parquet_rows} rows, the publish log says {expected}"
                )
            if parquet_columns != columns:
                problems.append(f"{parquet.name} columns {parquet_columns} differ from {columns}")
    finally:
        conn.close()
    return problems, counts


def build_publish_check(mart_keys: Iterable[dg.AssetKey]) -> dg.AssetChecksDefinition:
    """The blocking check of `serving/marts` over the marts `mart_keys`."""
    marts = sorted(k.path[-1] for k in mart_keys)

    @dg.asset_check(
        asset=PUBLISH_KEY,
        name=CHECK_NAME,
        blocking=True,
        description=(
            "The serving database opens read-only and holds every mart with the row count of its "
            "publish log; each Parquet file has the same rows and columns."
        ),
    )
    def serving_matches_publish_log(
        context: dg.AssetCheckExecutionContext, serving: ServingResource
    ) -> dg.AssetCheckResult:
        problems, counts = verify_serving(serving.resolved_dir, marts, context.run.run_id)
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{len(problems)} problems in the serving copy: {shown}"
                if problems
                else f"All {len(marts)} marts published with their logged row counts."
            ),
            metadata={
                "serving_database": dg.MetadataValue.path(
                    str(serving.resolved_dir / "serving.duckdb")
                ),
                "marts": len(marts),
                "problems": dg.MetadataValue.json(problems),
                "row_counts": dg.MetadataValue.json(counts),
            },
        )

    return serving_matches_publish_log
