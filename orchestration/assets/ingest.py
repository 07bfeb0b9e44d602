"""One Dagster asset per landing feed: `<landing>/<feed>/dt=*/…` → `raw.<feed>` in DuckDB.

The assets are partitioned daily by the landing's `dt` (orchestration/partitions.py) with a
single-run backfill policy: a run loads a range of dates, and for each date that has files it
replaces what that date loaded before (orchestration/ingest/loader.py keeps every version per
partition; changed rows go to raw_replaced so dbt rebuilds only the business dates they touch).
A date without files in the range keeps its rows. Re-running a range changes nothing; a rejected
file leaves raw as it was.

Feeds with a referential rule (order items, payments, refunds and reviews must name a known
order) depend on raw/orders: their loader checks each order_id against raw.orders (every
partition loaded so far, this run's included), so orders must be loaded first. A row whose only
fault is an unknown order is held in raw_held.<feed> (two systems export at different hours: the
order may come with a later dt); every load of the feed, one without files included, releases
the held rows whose order has come into raw and quarantines those whose order has not come within
ORPHAN_GRACE_DAYS dt days. The check `orphans_held` warns while rows are held.

Each ingest asset carries a blocking `quarantine_share` check: quarantined / read rows of this
load. None → passed; up to QUARANTINE_MAX_SHARE (default 0.01; per feed
QUARANTINE_MAX_SHARE_<FEED>) → failed with severity WARN (reported, nothing stops); above →
severity ERROR, which stops everything downstream, so the marts keep their previous contents.

Each also carries `unexpected_input` (WARN, nothing stops): what a delivery holds that the
ingest does not read, said instead of loading NULLs or skipping without a word: columns (JSON
keys) outside the contract, e.g. `review_txt` for `review_text`, and top-level landing folders
that are not a feed (`order/`, `returns/`), each reported on the feed nearest it by name.
"""

from pathlib import Path

import dagster as dg

from orchestration import deployment, settings
from orchestration.contract import FEEDS, LINEAGE_COLUMNS, Feed
from orchestration.ingest.landing import (
    LandingFileError,
    describe_unknown_entry,
    discover_feed_files,
    nearest_feed,
    unknown_entries,
)
from orchestration.ingest.loader import (
    HELD_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_SCHEMA,
    LoadStats,
    load_feed,
    unexpected_input,
)
from orchestration.partitions import DAILY_PARTITIONS, DateRange, context_dates
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

RAW_GROUP = "raw"
QUARANTINE_CHECK = "quarantine_share"
HELD_CHECK = "orphans_held"
UNEXPECTED_CHECK = "unexpected_input"
SHOWN = 3  # unexpected inputs named in a check's description (all are in its metadata)


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
        #   + rows_held (waiting in raw_held for their parent)
        "rows_read": stats.rows_read,
        "rows_loaded": stats.rows_loaded,
        "rows_quarantined": stats.rows_quarantined,
        "rows_superseded": stats.rows_superseded,
        "rows_held": stats.rows_held,
        # held rows of any earlier load: released into raw, or quarantined after their grace
        "rows_released": stats.rows_released,
        "rows_held_expired": stats.rows_held_expired,
        "rows_waiting": stats.rows_waiting,  # in raw_held after this load
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
        "rows_held_expired": stats.rows_held_expired,
        "quarantine_share": round(share, 6),
        "max_share": max_share,
        "top_reasons": dg.MetadataValue.json(dict(list(stats.quarantine_reasons.items())[:5])),
        "quarantine_table": f"{QUARANTINE_SCHEMA}.{stats.feed}",
    }
    severity = dg.AssetCheckSeverity.ERROR if share > max_share else dg.AssetCheckSeverity.WARN
    expired = (
        f"; {stats.rows_held_expired} held rows quarantined, their parent not delivered in time"
        if stats.rows_held_expired
        else ""
    )
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=stats.rows_quarantined == 0 and stats.rows_held_expired == 0,
        severity=severity,
        metadata=metadata,
        description=(
            f"{stats.rows_quarantined} of {stats.rows_read} rows quarantined ({share:.2%}; "
            f"max {max_share:.2%}){expired}"
        ),
    )


def held_check_result(stats: LoadStats, grace_days: int) -> dg.AssetCheckResult:
    """Pass when no row waits for its parent in raw_held, else WARN (nothing stops)."""
    waiting = ", ".join(list(stats.waiting_reasons)[:3])
    return dg.AssetCheckResult(
        check_name=HELD_CHECK,
        passed=stats.rows_waiting == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_waiting": stats.rows_waiting,
            "rows_held": stats.rows_held,
            "rows_released": stats.rows_released,
            "rows_held_expired": stats.rows_held_expired,
            "grace_days": grace_days,
            "top_reasons": dg.MetadataValue.json(stats.waiting_reasons),
            "held_table": f"{HELD_SCHEMA}.{stats.feed}",
        },
        description=(
            f"{stats.rows_waiting} rows held for a parent not loaded yet ({waiting}): loaded "
            f"when it comes, quarantined after ORPHAN_GRACE_DAYS={grace_days} dt days"
            if stats.rows_waiting
            else f"no row waits for its parent ({stats.rows_released} released by this load)"
        ),
    )


def stray_entries(root: Path, feed: str) -> list[str]:
    """The landing's top-level folders and files that are not a feed, reported on `feed`: each
    on the feed its name is nearest (a misspelt `order/` on orders; any other on the feed
    nearest by name too, so that every run's summary names it once)."""
    feeds = list(FEEDS)
    return [
        describe_unknown_entry(entry, feeds)
        for entry in unknown_entries(root, feeds)
        if nearest_feed(entry.name, feeds)[0] == feed
    ]


def unexpected_check_result(feed: str, found: list[str]) -> dg.AssetCheckResult:
    """Pass when the load read everything it was given, else WARN naming what it did not read."""
    shown = "; ".join(found[:SHOWN]) + (f"; and {len(found) - SHOWN} more" if found[SHOWN:] else "")
    return dg.AssetCheckResult(
        check_name=UNEXPECTED_CHECK,
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"not_read": dg.MetadataValue.json(found), "count": len(found)},
        description=f"not read: {shown}" if found else f"every column of {feed}'s files read",
    )


def _check_specs(feed: Feed, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            UNEXPECTED_CHECK,
            asset=key,
            description=(
                f"Columns (JSON keys) of {feed.name}'s files outside the contract, and landing "
                "folders that are not a feed and are nearest this one by name: WARN when any."
            ),
        ),
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=key,
            blocking=True,
            description=(
                f"Share of {feed.name} rows sent to {QUARANTINE_SCHEMA}.{feed.name}: "
                "WARN when any, ERROR (blocks downstream) above QUARANTINE_MAX_SHARE."
            ),
        ),
    ]
    if feed.parents:
        specs.append(
            dg.AssetCheckSpec(
                HELD_CHECK,
                asset=key,
                description=(
                    f"Rows of {feed.name} waiting in {HELD_SCHEMA}.{feed.name} for their "
                    f"{' / '.join(feed.parents)} row: WARN while any."
                ),
            )
        )
    return specs


def build_ingest_asset(feed: Feed) -> dg.AssetsDefinition:
    key = raw_asset_key(feed.name)

    @dg.asset(
        key=key,
        deps=[raw_asset_key(parent) for parent in feed.parents],
        check_specs=_check_specs(feed, key),
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
        grace_days: int = settings.value("ORPHAN_GRACE_DAYS")
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
                    load_id=context.run.run_id,
                    references_schema=RAW_SCHEMA if feed.parents else None,
                    orphan_grace_days=grace_days if feed.parents else None,
                )
                not_read = stray_entries(root, feed.name) + unexpected_input(
                    conn, feed, files, root
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
            f"{stats.rows_replaced} replaced, {stats.rows_quarantined} quarantined, "
            f"{stats.rows_held} held; {stats.rows_released} released, {stats.rows_waiting} waiting)"
        )
        for line in not_read:
            context.log.warning(f"feed {feed.name}: not read: {line}")
        checks = [
            quarantine_check_result(stats, settings.quarantine_max_share(feed.name)),
            unexpected_check_result(feed.name, not_read),
        ]
        if feed.parents:
            checks.append(held_check_result(stats, grace_days))
        return dg.MaterializeResult(
            metadata={**_metadata(stats, feed, dates), "delivered": delivered},
            check_results=checks,
        )

    return _ingest


def build_ingest_assets() -> list[dg.AssetsDefinition]:
    return [build_ingest_asset(feed) for feed in FEEDS.values()]
