"""Freshness of the landing: each feed's newest `dt=` partition must be recent enough.

The non-blocking check `freshness` of `raw/<feed>` (hourly job `freshness_checks`; the sensor
alerts on a failure) fails when no partition folder holds a file, or the newest is older than
FRESHNESS_MAX_LAG_DAYS[_<FEED>] days (UTC).
"""

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.assets.ingest import LandingResource, raw_asset_key
from orchestration.ingest.landing import LandingFileError, partition_date, visible

FRESHNESS_CHECK = "freshness"


def newest_partition(landing_root: Path, feed: str) -> date | None:
    """The newest `dt=YYYY-MM-DD` folder holding a visible file (empty: an export still writing)."""
    for folder in sorted((landing_root / feed).glob("dt=*/"), reverse=True):
        with contextlib.suppress(LandingFileError):  # not a partition folder, e.g. dt=2025-02-30
            if visible(folder):
                return partition_date(landing_root, folder)
    return None


def freshness_result(feed: str, newest: date | None, today: date) -> dg.AssetCheckResult:
    """The check of one feed; WARN when failed: a stale landing is a delivery problem. The limit:
    FRESHNESS_MAX_LAG_DAYS_<FEED>, else FRESHNESS_MAX_LAG_DAYS (env, then deployment file)."""
    limit = settings.get().for_feed("FRESHNESS_MAX_LAG_DAYS", feed)
    lag = None if newest is None else (today - newest).days
    passed = lag is not None and lag <= limit
    description = f"feed {feed}: no landing partition found"
    if newest is not None:
        description = (
            f"feed {feed}: newest partition dt={newest} is {lag} day(s) old on {today} (UTC); "
            f"{'within' if passed else 'exceeds'} the max lag of {limit} day(s)"
        )
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(feed),
        check_name=FRESHNESS_CHECK,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "newest_partition": newest.isoformat() if newest else "",
            "lag_days": -1 if lag is None else lag,
            "max_lag_days": limit,
            "evaluated_on": today.isoformat(),
            "observed_value": "no partition" if lag is None else f"{lag} days",  # for the alerts
            "threshold": f"<= {limit} days",
        },
    )


def build_freshness_checks(
    feeds: Iterable[str], clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dg.AssetChecksDefinition:
    """One subsettable, non-blocking `freshness` check per feed; `clock` is for tests."""
    specs = [
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=raw_asset_key(feed),
            description=f"Newest landing partition of {feed} at most FRESHNESS_MAX_LAG_DAYS "
            "days old (not blocking; runs in the freshness_checks job).",
        )
        for feed in sorted(feeds)
    ]

    @dg.multi_asset_check(
        specs=specs,
        name="landing_freshness",
        can_subset=True,
        description="Is each feed's newest landing partition recent enough?",
    )
    def landing_freshness(
        context: dg.AssetCheckExecutionContext, landing: LandingResource
    ) -> Iterable[dg.AssetCheckResult]:
        today, delivered = clock().astimezone(UTC).date(), set(settings.get().deployment.feeds)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            feed = key.asset_key.path[-1]
            if feed not in delivered:  # the deployment config says there is no such export
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=FRESHNESS_CHECK,
                    description=f"{feed} is not delivered (deployment config): not judged",
                    passed=True,
                    metadata={"delivered": False},
                )
                continue
            result = freshness_result(feed, newest_partition(landing.resolved_root, feed), today)
            (context.log.info if result.passed else context.log.warning)(result.description)
            yield result

    return landing_freshness
