"""Freshness of the landing: each feed's newest `dt=` partition must be recent enough.

One non-blocking check `freshness` per `raw/<feed>`, all in one step that lists the landing
folders. It fails when the feed's newest partition folder holding a file is more than
FRESHNESS_MAX_LAG_DAYS days (per feed FRESHNESS_MAX_LAG_DAYS_<FEED>) older than today (UTC), or
when there is none. It judges the exporters, not a run: a backfill while the landing lags is
legitimate, so these checks run in their own job, `freshness_checks` (hourly schedule), and a
failure becomes an alert through the check-evaluation sensor.
"""

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
    """FRESHNESS_MAX_LAG_DAYS_<FEED>, else FRESHNESS_MAX_LAG_DAYS (env, then deployment file)."""
    return settings.per_feed_value("FRESHNESS_MAX_LAG_DAYS", feed)


def newest_partition(landing_root: Path, feed: str) -> date | None:
    """The newest `dt=YYYY-MM-DD` folder of a feed holding a visible file (an empty folder is
    an export still writing). Stray names are skipped: this only looks for the newest."""
    folders = (landing_root / feed).iterdir() if (landing_root / feed).is_dir() else ()
    newest = None
    for folder in folders:
        match = _PARTITION_DIR.match(folder.name)
        try:
            dt = date.fromisoformat(match[1]) if match and folder.is_dir() else None
        except ValueError:
            continue
        if dt and (newest is None or dt > newest):
            if any(not p.name.startswith((".", "_", "~")) for p in folder.iterdir()):
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
        return (
            f"feed {self.feed}: newest partition dt={self.newest} is {self.lag_days} day(s) old "
            f"on {self.today} (UTC); {'within' if self.passed else 'exceeds'} the max lag of "
            f"{self.max_lag_days} day(s)"
        )


def evaluate_freshness(
    landing_root: Path, feed: str, now: datetime, max_lag: int | None = None
) -> Freshness:
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    lag = max_lag_days(feed) if max_lag is None else max_lag
    return Freshness(feed, newest_partition(landing_root, feed), today, lag)


def freshness_check_result(result: Freshness) -> dg.AssetCheckResult:
    """WARN when failed: a stale landing is a delivery problem, not bad data."""
    lag = result.lag_days
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(result.feed),
        check_name=FRESHNESS_CHECK,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=result.describe(),
        metadata={
            "newest_partition": result.newest.isoformat() if result.newest else "",
            "lag_days": -1 if lag is None else lag,
            "max_lag_days": result.max_lag_days,
            "evaluated_on": result.today.isoformat(),
            "observed_value": "no partition" if lag is None else f"{lag} days",  # for the alerts
            "threshold": f"<= {result.max_lag_days} days",
        },
    )


def freshness_check_keys(feeds: Iterable[str]) -> list[dg.AssetCheckKey]:
    return [dg.AssetCheckKey(raw_asset_key(feed), FRESHNESS_CHECK) for feed in feeds]


def build_freshness_checks(
    feeds: Iterable[str], clock: Clock = utc_now
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
        now, delivered = clock(), set(deployment.delivered_feeds())
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            feed = key.asset_key.path[-1]
            if feed not in delivered:  # the deployment config says there is no such export
                description = f"{feed} is not delivered (deployment config): not judged"
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=FRESHNESS_CHECK,
                    passed=True,
                    description=description,
                    metadata={"delivered": False},
                )
                continue
            result = evaluate_freshness(landing.resolved_root, feed, now)
            (context.log.info if result.passed else context.log.warning)(result.describe())
            yield freshness_check_result(result)

    return landing_freshness
