"""Sensors. The landing sensor (stopped by default) starts one run over the dt range of new or
re-delivered partitions. The alert sensors only read and notify, so they run by default: each
failed run with its failed steps, each failed check once when its run ends (a stale feed once
per newest partition), each new flagged row of a published mart (orchestration/alerts/flagged)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg

from orchestration import partitions, settings
from orchestration.alerts import Alert, AlertResource, run_link
from orchestration.alerts.flagged import alert_on_kpi_anomalies, alert_on_product_sales_alerts
from orchestration.checks.freshness_checks import FRESHNESS_CHECK
from orchestration.ingest.landing import LandingFileError
from orchestration.jobs import FULL_PIPELINE_JOB
from orchestration.progress import failure_reason

RUN_END_EVENTS = [dg.DagsterEventType[s] for s in ("RUN_SUCCESS", "RUN_FAILURE", "RUN_CANCELED")]
RUNS_PER_TICK = 50
# Check metadata keys, in order of preference, that hold what was observed / the limit.
OBSERVED_KEYS = ("observed_value", "quarantine_share", "dagster_dbt/failed_row_count")
OBSERVED_KEYS += ("unexpected_count", "error")
THRESHOLD_KEYS = ("threshold", "max_share", "max_lag_days")


def run_partition(tags: Mapping[str, str]) -> str | None:
    """The partition a run covered: one key, or a range `start..end` (single-run backfill)."""
    start = tags.get(partitions.ASSET_PARTITION_RANGE_START_TAG)
    end = tags.get(partitions.ASSET_PARTITION_RANGE_END_TAG)
    if tags.get("dagster/partition") or not (start and end):
        return tags.get("dagster/partition") or None
    return start if start == end else f"{start}..{end}"


def run_events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [r.event_log_entry for r in instance.get_records_for_run(run_id, of_type=kind).records]


def run_failure_alert(
    instance: dg.DagsterInstance, run: dg.DagsterRun, message: str | None, ui_url: str
) -> Alert:
    """One alert for a failed run: its failed steps and why, the assets they did not make."""
    kind = dg.DagsterEventType
    failures = run_events(instance, run.run_id, kind.STEP_FAILURE)
    reasons = {e.step_key: failure_reason(e.dagster_event.event_specific_data) for e in failures}
    reasons = {step: reason.splitlines()[0][:300] for step, reason in reasons.items()}

    def keys(event_type: dg.DagsterEventType) -> set[str]:
        found = run_events(instance, run.run_id, event_type)
        return {e.dagster_event.asset_key.to_user_string() for e in found if e.step_key in reasons}

    failed = sorted(keys(kind.ASSET_MATERIALIZATION_PLANNED) - keys(kind.ASSET_MATERIALIZATION))
    text = message or f"run of {run.job_name} failed"
    text += "".join(f"\n• {step}: {reason}" for step, reason in reasons.items())
    return Alert(
        kind="run_failure",
        message=text,
        asset_key=", ".join(failed[:5]) + (" …" if len(failed) > 5 else "") or None,
        partition=run_partition(run.tags),
        observed_value=next(iter(reasons.values()), None),
        run_id=run.run_id,
        link=run_link(run.run_id, ui_url),
        job_name=run.job_name,
        details={"failed_steps": ", ".join(reasons) or None},
    )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert (webhook / e-mail / log) on every failed run of any job.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    run, message = context.dagster_run, context.failure_event.message
    alerts.send([run_failure_alert(context.instance, run, message, alerts.ui_url)], context.log)


def metadata_value(metadata: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The first set value of `keys` in check metadata (floats rounded)."""
    for key in keys:
        value = getattr(metadata.get(key), "value", metadata.get(key))
        if value not in (None, ""):
            return round(value, 6) if isinstance(value, float) else value
    return None


def check_alert(evaluation: dg.AssetCheckEvaluation, run: dg.DagsterRun, ui_url: str) -> Alert:
    metadata = evaluation.metadata or {}
    observed = metadata_value(metadata, OBSERVED_KEYS)
    details: dict[str, Any] = {"blocking": evaluation.blocking}
    if "failed_expectations" in metadata:  # a GX suite: how many, and which
        failed = metadata_value(metadata, ("failed_expectations",))
        total = metadata_value(metadata, ("evaluated_expectations",))
        observed = observed or f"{failed} of {total} expectations failed"
        names = metadata_value(metadata, ("failed_expectation_names",)) or []
        details["failed_expectations"] = "; ".join(map(str, names[:5]))
    asset = evaluation.asset_key.to_user_string()
    return Alert(
        kind="freshness" if evaluation.check_name == FRESHNESS_CHECK else "check_failure",
        message=evaluation.description or f"check {evaluation.check_name} on {asset} failed",
        severity=evaluation.severity.value,  # ERROR or WARN
        asset_key=asset,
        check_name=evaluation.check_name,
        partition=evaluation.partition or run_partition(run.tags),
        observed_value=observed,
        threshold=metadata_value(metadata, THRESHOLD_KEYS),
        run_id=run.run_id,
        link=run_link(run.run_id, ui_url),
        job_name=run.job_name,
        details=details,
    )


def failed_check_alerts(
    instance: dg.DagsterInstance, run_id: str, ui_url: str, stale_alerted: dict[str, str]
) -> list[Alert]:
    """One alert per failed check evaluation of a run; a stale feed once per newest partition
    until its check passes (`stale_alerted`: asset -> newest partition alerted, kept here)."""
    run = instance.get_run_by_id(run_id)
    alerts = []
    events = run_events(instance, run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    for evaluation in (e.dagster_event.event_specific_data for e in events):
        if evaluation.check_name == FRESHNESS_CHECK:
            asset = evaluation.asset_key.to_user_string()
            newest = str(metadata_value(evaluation.metadata, ("newest_partition",)))
            if evaluation.passed:
                stale_alerted.pop(asset, None)
                continue
            if stale_alerted.get(asset) == newest:
                continue
            stale_alerted[asset] = newest
        if not evaluation.passed and run is not None:
            alerts.append(check_alert(evaluation, run, ui_url))
    return alerts


def finished_runs_since(
    instance: dg.DagsterInstance, cursors: Mapping[str, str | None]
) -> tuple[list[str], dict[str, str]]:
    """Run ids that finished (success, failure, cancel) after `cursors`, and the new cursors."""
    runs: list[tuple[int, str]] = []
    new = {}
    for event_type in RUN_END_EVENTS:
        result = instance.fetch_run_status_changes(
            event_type, limit=RUNS_PER_TICK, cursor=cursors.get(event_type.value), ascending=True
        )
        runs += [(r.storage_id, r.event_log_entry.run_id) for r in result.records]
        new[event_type.value] = result.cursor
    return [run_id for _, run_id in sorted(runs)], new


@dg.sensor(
    name="alert_on_failed_checks",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert on every failed asset check (blocking or not, ERROR or WARN) of every "
    "finished run; a failed `freshness` check is a freshness alert.",
)
def alert_on_failed_checks(
    context: dg.SensorEvaluationContext, alerts: AlertResource
) -> dg.SkipReason:
    instance = context.instance
    if not context.cursor:  # first tick: from now on; past runs were someone else's to alert on
        runs = {
            t.value: instance.fetch_run_status_changes(t, limit=1, ascending=False).cursor
            for t in RUN_END_EVENTS
        }
        context.update_cursor(json.dumps({"runs": runs, "stale_alerted": {}}))
        return dg.SkipReason("initialised at the latest finished run")
    state = json.loads(context.cursor)
    run_ids, runs = finished_runs_since(instance, state["runs"])
    stale = state.get("stale_alerted", {})
    found = [a for r in run_ids for a in failed_check_alerts(instance, r, alerts.ui_url, stale)]
    alerts.send(found, logger=context.log)
    context.update_cursor(json.dumps({"runs": runs, "stale_alerted": stale}))
    return dg.SkipReason(f"{len(run_ids)} finished run(s), {len(found)} failed check(s) alerted")


def plan_landing_run(
    fingerprints: dict[str, tuple[str, float]], seen: dict[str, str], now: float, settle: float
) -> tuple[partitions.DateRange | None, dict[str, str], list[str]]:
    """(range to load or None, the new cursor, changed dates still settling)."""
    changed = {dt: fp for dt, fp in fingerprints.items() if seen.get(dt) != fp[0]}
    settling = sorted(dt for dt, (_, newest) in changed.items() if now - newest < settle)
    ready = sorted(dt for dt in changed if dt not in settling)
    cursor = {**seen, **{dt: changed[dt][0] for dt in ready}}
    if not ready:
        return None, cursor, settling
    first, last = date.fromisoformat(ready[0]), date.fromisoformat(ready[-1])
    return partitions.DateRange(first, last), cursor, settling


@dg.sensor(
    job=FULL_PIPELINE_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts full_pipeline over the dt range of new or re-delivered landing "
    "partitions (after LANDING_SETTLE_SECONDS without changes).",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """The cursor (each `dt=` folder's fingerprint) advances on request: no retry of a failure."""
    root = settings.get().landing_dir
    try:
        fingerprints = partitions.partition_fingerprints(root)
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


SENSORS = [
    alert_on_run_failure,
    alert_on_failed_checks,
    alert_on_kpi_anomalies,
    alert_on_product_sales_alerts,
]
