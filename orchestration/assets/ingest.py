"""One Dagster asset per landing feed: `<landing>/<feed>/dt=*/…` → `raw.<feed>` in DuckDB,
partitioned daily by the landing's `dt` (any range in one run); a feed with a References rule
depends on its parent. Checks: `quarantine_share` (blocking ERROR above QUARANTINE_MAX_SHARE),
`unexpected_input` (WARN: input not read), `orphans_held` (WARN while rows wait for a parent)."""

from pathlib import Path

import dagster as dg

from orchestration import deployment, settings
from orchestration.contract import FEEDS, LINEAGE_COLUMNS, Feed
from orchestration.ingest import landing as landing_files
from orchestration.ingest import loader
from orchestration.partitions import DAILY_PARTITIONS, DateRange, context_dates
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource

QUARANTINE_CHECK = "quarantine_share"
HELD_CHECK = "orphans_held"
UNEXPECTED_CHECK = "unexpected_input"
SHOWN = 3  # unexpected inputs named in a check's description (all are in its metadata)


class LandingResource(dg.ConfigurableResource):
    """Root folder of the landing zone (env LANDING_DIR)."""

    root: str

    @property
    def resolved_root(self) -> Path:
        return settings.resolve_path(self.root)


def raw_asset_key(feed: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", feed])


def _metadata(stats: loader.LoadStats, dates: DateRange) -> dict[str, object]:
    scalars = {n: v for n, v in vars(stats).items() if type(v) in (int, float, str) and n != "feed"}
    return {
        "dagster/row_count": stats.rows_in_raw,
        **scalars,
        "files_by_format": dg.MetadataValue.json(stats.files_by_format),
        "dt_range": str(dates),
        "quarantine_share": round(_share(stats), 6),
        "quarantine_reasons": dg.MetadataValue.json(stats.quarantine_reasons),
    }


def _share(stats: loader.LoadStats) -> float:
    return stats.rows_quarantined / stats.rows_read if stats.rows_read else 0.0


def _rows(stats: loader.LoadStats, *names: str) -> dict[str, int]:
    return {f"rows_{name}": getattr(stats, f"rows_{name}") for name in names}


def quarantine_check_result(stats: loader.LoadStats, max_share: float) -> dg.AssetCheckResult:
    """Pass with no quarantined row, WARN up to `max_share` of rows read, ERROR above."""
    share = _share(stats)
    expired = (
        f"; {stats.rows_held_expired} held rows quarantined, their parent not delivered in time"
    )
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=stats.rows_quarantined == 0 and stats.rows_held_expired == 0,
        severity=dg.AssetCheckSeverity.ERROR if share > max_share else dg.AssetCheckSeverity.WARN,
        metadata={
            **_rows(stats, "read", "loaded", "quarantined", "superseded", "held_expired"),
            "quarantine_share": round(share, 6),
            "max_share": max_share,
            "top_reasons": dg.MetadataValue.json(dict(list(stats.quarantine_reasons.items())[:5])),
            "quarantine_table": f"{loader.QUARANTINE_SCHEMA}.{stats.feed}",
        },
        description=(
            f"{stats.rows_quarantined} of {stats.rows_read} rows quarantined ({share:.2%}; "
            f"max {max_share:.2%}){expired if stats.rows_held_expired else ''}"
        ),
    )


def held_check_result(stats: loader.LoadStats, grace_days: int) -> dg.AssetCheckResult:
    """Pass when no row waits for its parent in raw_held, else WARN (nothing stops)."""
    waiting = ", ".join(list(stats.waiting_reasons)[:3])
    return dg.AssetCheckResult(
        check_name=HELD_CHECK,
        passed=stats.rows_waiting == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **_rows(stats, "waiting", "held", "released", "held_expired"),
            "grace_days": grace_days,
            "top_reasons": dg.MetadataValue.json(stats.waiting_reasons),
            "held_table": f"{loader.HELD_SCHEMA}.{stats.feed}",
        },
        description=(
            f"{stats.rows_waiting} rows held for a parent not loaded yet ({waiting}): loaded "
            f"when it comes, quarantined after ORPHAN_GRACE_DAYS={grace_days} dt days"
            if stats.rows_waiting
            else f"no row waits for its parent ({stats.rows_released} released by this load)"
        ),
    )


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
    name = feed.name
    unexpected = f"Columns of {name}'s files outside the contract, stray folders: WARN when any."
    quarantine = (
        f"Share of {name} rows sent to {loader.QUARANTINE_SCHEMA}.{name}: WARN when any, "
        "ERROR (blocks downstream) above QUARANTINE_MAX_SHARE."
    )
    held = f"Rows of {name} waiting for a parent in {loader.HELD_SCHEMA}.{name}: WARN if any."
    return [
        dg.AssetCheckSpec(UNEXPECTED_CHECK, asset=key, description=unexpected),
        dg.AssetCheckSpec(QUARANTINE_CHECK, asset=key, blocking=True, description=quarantine),
    ] + ([dg.AssetCheckSpec(HELD_CHECK, asset=key, description=held)] if feed.parents else [])


def _range_files(
    context: dg.AssetExecutionContext, feed: Feed, root: Path, dates: DateRange
) -> tuple[list[landing_files.LandingFile], bool]:
    """The feed's files of `dates`, and whether it is delivered (judged on the whole landing)."""
    every_file = landing_files.discover_feed_files(root, feed.name)
    delivered = deployment.check_feed_files(feed.name, every_file, root)
    files = [f for f in every_file if dates.first <= f.partition_dt <= dates.last]
    if not delivered and files:
        context.log.warning(f"feed {feed.name} is not delivered: files ignored")
    elif delivered and not files:
        context.log.warning(f"no files for feed {feed.name}, dt {dates}, under {root}")
    return (files if delivered else []), delivered


def build_ingest_asset(feed: Feed) -> dg.AssetsDefinition:
    key, columns = raw_asset_key(feed.name), {**feed.columns, **LINEAGE_COLUMNS}.items()
    # The table's name and columns belong to the definition, not to each partition's event.
    schema = dg.TableSchema([dg.TableColumn(n, t) for n, t in columns])

    @dg.asset(
        key=key,
        deps=[raw_asset_key(parent) for parent in feed.parents],
        check_specs=_check_specs(feed, key),
        group_name="raw",
        partitions_def=DAILY_PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        metadata={"dagster/table_name": f"raw.{feed.name}", "dagster/column_schema": schema},
        description=(
            f"Feed `{feed.name}` ({feed.source} system) loaded from the landing zone: "
            f"one row per {' + '.join(feed.key)}, newest delivery wins."
        ),
        tags={"layer": "raw", "source_system": feed.source},
    )
    def _ingest(
        context: dg.AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        root, dates = landing.resolved_root, context_dates(context)
        grace: int = settings.get().orphan_grace_days
        max_share = settings.get().for_feed("QUARANTINE_MAX_SHARE", feed.name)
        try:
            files, delivered = _range_files(context, feed, root, dates)
            with warehouse.connect() as conn:
                run_id = context.run.run_id
                stats = loader.load_feed(conn, feed, files, root, run_id, loader.RAW_SCHEMA, grace)
        except landing_files.LandingFileError as exc:  # one line: file, line, problem
            raise dg.Failure(
                description=f"feed {feed.name}: {exc}",
                metadata={"file": exc.file, "line": exc.line or -1, "reason": exc.reason},
                allow_retries=False,
            ) from exc
        entries = landing_files.stray_entries(root, list(FEEDS))
        strays = [message for _, nearest, message in entries if nearest == feed.name]
        not_read = strays + stats.not_read
        context.log.info(
            f"raw.{feed.name} dt {dates}: {stats.rows_loaded} rows from {stats.files} files in "
            f"{stats.partitions} partitions ({stats.rows_inserted} new or changed, "
            f"{stats.rows_replaced} replaced, {stats.rows_quarantined} quarantined, "
            f"{stats.rows_held} held; {stats.rows_released} released, {stats.rows_waiting} waiting)"
        )
        for line in not_read:
            context.log.warning(f"feed {feed.name}: not read: {line}")
        checks = [
            quarantine_check_result(stats, max_share),
            unexpected_check_result(feed.name, not_read),
        ]
        if feed.parents:
            checks.append(held_check_result(stats, grace))
        return dg.MaterializeResult(
            metadata={**_metadata(stats, dates), "delivered": delivered},
            check_results=checks,
        )

    return _ingest


def build_ingest_assets() -> list[dg.AssetsDefinition]:
    return [build_ingest_asset(feed) for feed in FEEDS.values()]
