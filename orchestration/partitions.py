"""Daily partitions of the ingest assets: one partition = one delivery date `dt` of every feed.
A run covers a range of dates (single-run backfill): one run, one `dbt build`; the range travels
as Dagster's partition-range tags, which the UI's backfill dialog, CLI, sensor and schedule set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.contract import FEEDS
from orchestration.ingest.landing import partition_dirs, visible

# The run tags of a partition range run (a single-run backfill), as Dagster's UI writes them.
ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

# end_offset=1: today's partition exists, so a delivery for the current day loads the same day.
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=settings.get().partitions_start_date.isoformat(), end_offset=1, timezone="UTC"
)


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"empty date range: {self.first} is after {self.last}: swap them")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def tags(self) -> dict[str, str]:
        """The run tags of a run over this range; ValueError, saying what to change, outside."""
        start, today = settings.get().partitions_start_date, datetime.now(UTC).date()
        if self.first < start:
            raise ValueError(
                f"dt {self.first} is before PARTITIONS_START_DATE={start}: "
                "pick a later day or set PARTITIONS_START_DATE earlier"
            )
        if self.last > today:  # the daily partitions are UTC days, today's included
            raise ValueError(f"dt {self.last} is in the future (today is {today}): pick a past day")
        return {
            ASSET_PARTITION_RANGE_START_TAG: self.first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: self.last.isoformat(),
        }

    def __str__(self) -> str:
        return self.first.isoformat() if self.days == 1 else f"{self.first} .. {self.last}"


def landing_range(landing_root: Path) -> DateRange | None:
    """First to last dt with a partition folder in any feed of the landing (None if empty)."""
    dates = sorted({dt for feed in FEEDS for dt, _ in partition_dirs(landing_root, feed)})
    return DateRange(dates[0], dates[-1]) if dates else None


def partition_fingerprints(landing_root: Path) -> dict[str, tuple[str, float]]:
    """Per dt: a digest of every file's feed, name, size and mtime (a new, re-delivered or
    removed file changes it), and the newest mtime (to wait until a delivery has settled)."""
    entries: dict[date, list[str]] = {}
    newest: dict[date, float] = {}
    for feed in FEEDS:
        for dt, folder in partition_dirs(landing_root, feed):
            for path in filter(Path.is_file, visible(folder)):
                stat = path.stat()
                line = f"{feed}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
                entries.setdefault(dt, []).append(line)
                newest[dt] = max(newest.get(dt, 0.0), stat.st_mtime)
    return {
        dt.isoformat(): (hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16], newest[dt])
        for dt, lines in entries.items()
    }


def context_dates(context: dg.AssetExecutionContext) -> DateRange:
    keys = context.partition_key_range
    return DateRange(date.fromisoformat(keys.start), date.fromisoformat(keys.end))
