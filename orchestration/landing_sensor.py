"""The landing sensor: one run over the range of new or re-delivered dt partitions.

Each tick compares every `dt=` folder's fingerprint (names, sizes, mtimes) with the cursor; the
changed dates settled for LANDING_SETTLE_SECONDS are loaded by ONE run over their range. The
cursor advances when the run is requested: a failed run is alerted, not retried.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import date

import dagster as dg

from orchestration import settings
from orchestration.ingest.landing import LandingFileError
from orchestration.jobs import FULL_PIPELINE_JOB
from orchestration.partitions import DateRange, partition_fingerprints


def plan_landing_run(
    fingerprints: dict[str, tuple[str, float]],
    seen: dict[str, str],
    now: float,
    settle: float,
) -> tuple[DateRange | None, dict[str, str], list[str]]:
    """(range to load or None, the new cursor, changed dates still settling)."""
    changed = {dt: fp for dt, fp in fingerprints.items() if seen.get(dt) != fp[0]}
    settling = sorted(dt for dt, (_, newest) in changed.items() if now - newest < settle)
    ready = sorted(dt for dt in changed if dt not in settling)
    cursor = dict(seen)
    cursor.update({dt: changed[dt][0] for dt in ready})
    if not ready:
        return None, cursor, settling
    return DateRange(date.fromisoformat(ready[0]), date.fromisoformat(ready[-1])), cursor, settling


@dg.sensor(
    job=FULL_PIPELINE_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Starts full_pipeline over the dt range of new or re-delivered landing partitions "
        "(after LANDING_SETTLE_SECONDS without changes)."
    ),
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    root = settings.get().landing_dir
    try:
        fingerprints = partition_fingerprints(root)
    except LandingFileError as exc:
        return dg.SkipReason(f"landing {root} is not readable as a landing: {exc}")
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    settle = settings.get().landing_settle_seconds
    dates, cursor, settling = plan_landing_run(fingerprints, seen, time.time(), settle)
    if settling:
        context.log.info(f"waiting for dt {', '.join(settling)} to settle")
    if dates is None:
        return dg.SkipReason("no new or re-delivered partition" + (" ready" if settling else ""))
    changed = {dt: cursor[dt] for dt in sorted(cursor) if seen.get(dt) != cursor[dt]}
    run_key = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:20]
    context.log.info(f"{len(changed)} changed partition(s): loading dt {dates}")
    request = dg.RunRequest(run_key=run_key, tags={**dates.tags(), "trigger": "landing_sensor"})
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor, sort_keys=True))
