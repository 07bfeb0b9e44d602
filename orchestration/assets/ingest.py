"""One Dagster asset per landing feed: `<landing>/<feed>/dt=*/…` → `raw.<feed>` in DuckDB.

The assets read every delivered partition and replace the raw table in one transaction, so a
re-run over the same files changes nothing and a rejected file leaves raw as it was. The per-file
work (discovery, header checks, typing, quarantine) lives in `orchestration.ingest`, independent of
Dagster, so a daily-partitioned variant can reuse it.
"""

from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.contract import FEEDS, LINEAGE_COLUMNS, Feed
from orchestration.ingest.landing import LandingFileError, discover_feed_files
from orchestration.ingest.loader import LoadStats, load_feed
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

RAW_GROUP = "raw"


class LandingResource(dg.ConfigurableResource):
    """Root folder of the landing zone (env LANDING_DIR)."""

    root: str = settings.DEFAULT_LANDING_DIR

    @property
    def resolved_root(self) -> Path:
        p = Path(self.root).expanduser()
        return p if p.is_absolute() else settings.REPO_ROOT / p


def raw_asset_key(feed: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed])


def _column_schema(feed: Feed) -> dg.TableSchema:
    cols = [dg.TableColumn(name, sql_type) for name, sql_type in feed.columns.items()]
    cols += [dg.TableColumn(name, sql_type) for name, sql_type in LINEAGE_COLUMNS.items()]
    return dg.TableSchema(columns=cols)


def _metadata(stats: LoadStats, feed: Feed) -> dict[str, object]:
    return {
        "dagster/row_count": stats.rows_loaded,
        "dagster/column_schema": _column_schema(feed),
        "dagster/table_name": f"raw.{feed.name}",
        "files": stats.files,
        "files_by_format": dg.MetadataValue.json(stats.files_by_format),
        "partitions": stats.partitions,
        "first_partition": stats.first_partition or "",
        "last_partition": stats.last_partition or "",
        "rows_read": stats.rows_read,
        "rows_quarantined": stats.rows_quarantined,
        "rows_superseded": stats.rows_superseded,
        "quarantine_reasons": dg.MetadataValue.json(stats.quarantine_reasons),
        "seconds": stats.seconds,
    }


def build_ingest_asset(feed: Feed) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_asset_key(feed.name),
        group_name=RAW_GROUP,
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        description=(
            f"Feed `{feed.name}` ({feed.source} system) loaded from the landing zone: "
            f"one row per {' + '.join(feed.key)}, newest delivery wins."
        ),
        tags={"layer": "raw", "source_system": feed.source},
    )
    def _ingest(
        context: dg.AssetExecutionContext,
        landing: LandingResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        root = landing.resolved_root
        try:
            files = discover_feed_files(root, feed.name)
            if not files:
                context.log.warning(f"no landing files for feed {feed.name} under {root}")
            with warehouse.connect() as conn:
                stats = load_feed(conn, feed, files, root, load_id=context.run_id)
        except LandingFileError as exc:
            # Fail the step with a message that names the file, the line and the problem.
            raise dg.Failure(
                description=f"feed {feed.name}: {exc}",
                metadata={"file": exc.file, "line": exc.line or -1, "reason": exc.reason},
                allow_retries=False,
            ) from exc
        context.log.info(
            f"raw.{feed.name}: {stats.rows_loaded} rows from {stats.files} files "
            f"({stats.rows_quarantined} quarantined, {stats.rows_superseded} superseded)"
        )
        return dg.MaterializeResult(metadata=_metadata(stats, feed))

    return _ingest


def build_ingest_assets() -> list[dg.AssetsDefinition]:
    return [build_ingest_asset(feed) for feed in FEEDS.values()]
