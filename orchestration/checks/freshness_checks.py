"""Freshness of the landing: each feed's newest `dt=` partition must be recent enough.

One non-blocking asset check `freshness` per `raw/<feed>` asset, all computed in one step (a
directory listing per feed, no warehouse access). The check fails when the newest partition folder
`<LANDING_DIR>/<feed>/dt=YYYY-MM-DD/` is more than FRESHNESS_MAX_LAG_DAYS days (default 2; per
feed FRESHNESS_MAX_LAG_DAYS_<FEED>) older than today (UTC), or when the feed has no partition.

Why separate from the pipeline: the check judges the *landing* (did the exporters deliver?), not
what a run loaded. A backfill or a re-run of old partitions is legitimate while the landing lags,
so these checks are not blocking and are not in `full_pipeline`; they run in their own job,
`freshness_checks` (hourly schedule, stopped by default), and a failure becomes a freshness alert
through the check-evaluation sensor. They do not depend on partitions: an unpartitioned check on
a daily-partitioned asset is allowed, and the check looks at the landing folders, not at
materialized partitions.
"""

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from orchestration import deployment, settings
from orchestration.assets.ingest import LandingResource, raw_asset_key

FRESHNESS_CHECK = "freshness"
_PARTITION_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def max_lag_days(feed: str) -> int:
    """Env FRESHNESS_MAX_LAG_DAYS_<FEED>, else FRESHNESS_MAX_LAG_DAYS, else the deployment
    config's `freshness_max_lag_hours` in whole days, rounded up (default 36 h → 2 days)."""
    days = settings.per_feed_value("FRESHNESS_MAX_LAG_DAYS", feed)
    if days is not None:
        return days
    return math.ceil(deployment.freshness_max_lag_hours() / 24)


def newest_partition(landing_root: Path, feed: str) -> date | None:
    """The newest `dt=YYYY-MM-DD` folder of a feed that holds at least one visible file.

    Unlike ingest this never raises on a stray name: it only has to find the newest delivery.
    An empty folder (an export that has not written yet) is not a delivery.
    """
    feed_dir = landing_root / feed
    if not feed_dir.is_dir():
        return None
    newest: date | None = None
    for child in feed_dir.iterdir():
        match = _PARTITION_DIR.match(child.name)
        if not match or not child.is_dir():
            continue
        try:
            dt = date.fromisoformat(match.group(1))
        except ValueError:
            continue
        if (newest is None or dt > newest) and any(
            not p.name.startswith((".", "_", "~")) for p in child.iterdir()
        ):
            newest = dt
    return newest


@dataclass(frozen=True)
class Freshness:
    feed: str
    newest: date | None
    today: date
    max_lag_days: int

    @property
    def lag_days(self) -> int | None:
        return None if self.newest is None else (self.today - self.newest).days

    @property
    def passed(self) -> bool:
        return self.lag_days is not None and self.lag_days <= self.max_lag_days

    def describe(self) -> str:
        if self.newest is None:
            return f"feed {self.feed}: no landing partition found"
        verdict = "within" if self.passed else "exceeds"
        return (
            f"feed {self.feed}: newest partition dt={self.newest.isoformat()} is "
            f"{self.lag_days} day(s) old on {self.today.isoformat()} (UTC); {verdict} the max "
            f"lag of {self.max_lag_days} day(s)"
        )


def evaluate_freshness(
    landing_root: Path, feed: str, now: datetime, max_lag: int | None = None
) -> Freshness:
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    return Freshness(
        feed=feed,
        newest=newest_partition(landing_root, feed),
        today=today,
        max_lag_days=max_lag_days(feed) if max_lag is None else max_lag,
    )


def freshness_check_result(result: Freshness) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(result.feed),
        check_name=FRESHNESS_CHECK,
        passed=result.passed,
        # A stale landing is a delivery problem, not bad data in the warehouse: WARN.
        severity=dg.AssetCheckSeverity.WARN,
        description=result.describe(),
        metadata={
            "newest_partition": result.newest.isoformat() if result.newest else "",
            "lag_days": result.lag_days if result.lag_days is not None else -1,
            "max_lag_days": result.max_lag_days,
            "evaluated_on": result.today.isoformat(),
            # the names the alert sensor reads
            "observed_value": (
                f"{result.lag_days} days" if result.lag_days is not None else "no partition"
            ),
            "threshold": f"<= {result.max_lag_days} days",
        },
    )


def freshness_check_keys(feeds: Iterable[str]) -> list[dg.AssetCheckKey]:
    return [dg.AssetCheckKey(raw_asset_key(feed), FRESHNESS_CHECK) for feed in feeds]


def build_freshness_checks(
    feeds: Iterable[str], clock: Clock = utc_now
) -> dg.AssetChecksDefinition:
    """One subsettable, non-blocking `freshness` check per feed; `clock` is injectable for tests."""
    feeds = sorted(feeds)
    specs = [
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=raw_asset_key(feed),
            blocking=False,
            description=(
                f"Newest landing partition of {feed} at most FRESHNESS_MAX_LAG_DAYS days old "
                "(not blocking; runs in the freshness_checks job)."
            ),
        )
        for feed in feeds
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
        root = landing.resolved_root
        now = clock()
        delivered = set(deployment.delivered_feeds())
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            feed = key.asset_key.path[-1]
            if feed not in delivered:  # the deployment config says the shop has no such export
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=FRESHNESS_CHECK,
                    passed=True,
                    description=f"{feed} is not delivered (deployment config): not judged",
                    metadata={"delivered": False},
                )
                continue
            result = evaluate_freshness(root, feed, now)
            (context.log.info if result.passed else context.log.warning)(result.describe())
            yield freshness_check_result(result)

    return landing_freshness
