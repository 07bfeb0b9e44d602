"""One Dagster asset per landing feed: `<landing>/<feed>/dt=*/…` → `raw.<feed>` in DuckDB.

The assets are partitioned daily by the landing's `dt` (orchestration/partitions.py) with a
single-run backfill policy: a run loads a range of dates, and for each date that has files it
replaces what that date loaded before (orchestration/ingest/loader.py keeps every version per
partition; changed rows go to raw_replaced so dbt rebuilds only the business dates they touch).
A date without files in the range keeps its rows. Re-running a range changes nothing; a rejected
file leaves raw as it was.

Feeds with a referential rule (order items, payments, refunds and reviews must name a known
order) depend on raw/orders: their loader checks each order_id against raw.orders (every
partition loaded so far, this run's included), so orders must be loaded first; a row for an
unknown order is quarantined.

Each ingest asset carries a blocking `quarantine_share` check: quarantined / read rows of this
load. None → passed; up to QUARANTINE_MAX_SHARE (default 0.01; per feed
QUARANTINE_MAX_SHARE_<FEED>) → failed with severity WARN (reported, nothing stops); above →
severity ERROR, which stops everything downstream, so the marts keep their previous contents.
"""

from pathlib import Path

import dagster as dg

from orchestration import deployment, settings
from orchestration.contract import FEEDS, LINEAGE_COLUMNS, Feed
from orchestration.ingest.landing import LandingFileError, discover_feed_files
from orchestration.ingest.loader import QUARANTINE_SCHEMA, RAW_SCHEMA, LoadStats, load_feed
from orchestration.partitions import DAILY_PARTITIONS, DateRange, context_dates
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

RAW_GROUP = "raw"
QUARANTINE_CHECK = "quarantine_share"


def quarantine_max_share(feed: str) -> float:
    """Env QUARANTINE_MAX_SHARE_<FEED>, else QUARANTINE_MAX_SHARE, else 0.01 (a share, 0–1)."""
    return settings.quarantine_max_share(feed)


class LandingResource(dg.ConfigurableResource):
    """Root folder of the landing zone (env LANDING_DIR)."""

    root: str = settings.DEFAULT_LANDING_DIR

    @property
    def resolved_root(self) -> Path:
        return settings.resolve_path(self.root)


def raw_asset_key(feed: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed])


def _column_schema(feed: Feed) -> dg.TableSchema:
    cols = [dg.TableColumn(name, sql_type) for name, sql_type in feed.columns.items()]
    cols += [dg.TableColumn(name, sql_type) for name, sql_type in LINEAGE_COLUMNS.items()]
    return dg.TableSchema(columns=cols)


def _metadata(stats: LoadStats, feed: Feed, dates: DateRange) -> dict[str, object]:
    return {
        "dagster/row_count": stats.rows_in_raw,
        "dagster/column_schema": _column_schema(feed),
        "dagster/table_name": f"raw.{feed.name}",
        "files": stats.files,
        "files_by_format": dg.MetadataValue.json(stats.files_by_format),
        "dt_range": str(dates),
        # of the range's dates, those with files (the others keep what they loaded before)
        "partitions": stats.partitions,
        "first_partition": stats.first_partition or "",
        "last_partition": stats.last_partition or "",
        # rows_read = rows_loaded + rows_quarantined + rows_superseded (within a partition)
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_quarantined": stats.rows_quarantined,
        "rows_superseded": stats.rows_superseded,
        # rows_loaded = rows_inserted + rows_unchanged; rows_replaced went to raw_replaced
        "rows_inserted": stats.rows_inserted,
        "rows_unchanged": stats.rows_unchanged,
        "rows_replaced": stats.rows_replaced,
        "rows_in_raw": stats.rows_in_raw,
        "quarantine_share": round(stats.rows_quarantined / stats.rows_read, 6)
        if stats.rows_read
        else 0.0,
        "quarantine_reasons": dg.MetadataValue.json(stats.quarantine_reasons),
        "seconds": stats.seconds,
    }


def quarantine_check_result(stats: LoadStats, max_share: float) -> dg.AssetCheckResult:
    """Pass with no quarantined row, WARN up to `max_share` of rows read, ERROR above."""
    share = stats.rows_quarantined / stats.rows_read if stats.rows_read else 0.0
    metadata = {
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_quarantined": stats.rows_quarantined,
        "rows_superseded": stats.rows_superseded,
        "quarantine_share": round(share, 6),
        "max_share": max_share,
        "top_reasons": dg.MetadataValue.json(dict(list(stats.quarantine_reasons.items())[:5])),
        "quarantine_table": f"{QUARANTINE_SCHEMA}.{stats.feed}",
    }
    severity = dg.AssetCheckSeverity.ERROR if share > max_share else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=stats.rows_quarantined == 0,
        severity=severity,
        metadata=metadata,
        description=(
            f"{stats.rows_quarantined} of {stats.rows_read} rows quarantined ({share:.2%}; "
            f"max {max_share:.2%})"
        ),
    )


def build_ingest_asset(feed: Feed) -> dg.AssetsDefinition:
    key = raw_asset_key(feed.name)

    @dg.asset(
        key=key,
        deps=[raw_asset_key(parent) for parent in feed.parents],
        check_specs=[
            dg.AssetCheckSpec(
                QUARANTINE_CHECK,
                asset=key,
                blocking=True,
                description=(
                    f"Share of {feed.name} rows sent to {QUARANTINE_SCHEMA}.{feed.name}: "
                    "WARN when any, ERROR (blocks downstream) above QUARANTINE_MAX_SHARE."
                ),
            )
        ],
        group_name=RAW_GROUP,
        partitions_def=DAILY_PARTITIONS,
        # A backfill of any range is one run: one load per feed, one dbt build after it.
        backfill_policy=dg.BackfillPolicy.single_run(),
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
        dates = context_dates(context)
        try:
            # "delivered" judges the whole landing, not the range: a feed may skip a day.
            # Not delivered (config): an empty table; delivered without any file: rejected.
            every_file = discover_feed_files(root, feed.name)
            delivered = deployment.check_feed_files(feed.name, every_file, root)
            files = [f for f in every_file if dates.first <= f.partition_dt <= dates.last]
            if not delivered:
                if files:
                    context.log.warning(f"feed {feed.name} is not delivered: files ignored")
                files = []
            elif not files:
                context.log.warning(f"no files for feed {feed.name}, dt {dates}, under {root}")
            with warehouse.connect() as conn:
                stats = load_feed(
                    conn,
                    feed,
                    files,
                    root,
                    load_id=context.run_id,
                    references_schema=RAW_SCHEMA if feed.parents else None,
                )
        except LandingFileError as exc:
            # Fail the step with a message that names the file, the line and the problem.
            raise dg.Failure(
                description=f"feed {feed.name}: {exc}",
                metadata={"file": exc.file, "line": exc.line or -1, "reason": exc.reason},
                allow_retries=False,
            ) from exc
        context.log.info(
            f"raw.{feed.name} dt {dates}: {stats.rows_loaded} rows from {stats.files} files in "
            f"{stats.partitions} partitions ({stats.rows_inserted} new or changed, "
            f"{stats.rows_replaced} replaced, {stats.rows_quarantined} quarantined)"
        )
        return dg.MaterializeResult(
            metadata={**_metadata(stats, feed, dates), "delivered": delivered},
            check_results=[quarantine_check_result(stats, quarantine_max_share(feed.name))],
        )

    return _ingest


def build_ingest_assets() -> list[dg.AssetsDefinition]:
    return [build_ingest_asset(feed) for feed in FEEDS.values()]
