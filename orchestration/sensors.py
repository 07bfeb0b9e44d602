"""Alert sensors: failed runs, failed checks (incl. freshness), new KPI anomalies.

- `alert_on_run_failure`: a `run_failure_sensor` over every job. `monitor_all_code_locations`
  is on because runs started by `make pipeline` (`execute_in_process` in DAGSTER_HOME) carry no
  code-location origin, and a run-status sensor scoped to its own location skips them.
- `alert_on_failed_checks`: every failed asset check, blocking or not, ERROR or WARN. A run
  failure sensor does not see them: a failed non-blocking check (or a WARN) leaves the run
  successful. The instance's `get_event_records` cannot page check evaluations across runs with
  a plain cursor on the default (run-sharded SQLite) storage, so the sensor follows the
  run-finished events instead (`fetch_run_status_changes`, the index the run-status sensors
  use, one cursor per status) and reads each finished run's check evaluations. Each failed
  evaluation alerts once, when its run ends; a `freshness` check gives a `freshness` alert,
  once per stale feed and newest partition (the check runs hourly; see `failed_check_alerts`).
- `alert_on_kpi_anomalies`: each new flagged row of `marts.kpi_anomalies` in the PUBLISHED
  serving database (opened read-only; never the working warehouse, which a run may be writing).
  It polls the publish version, so a publish from any run, or a rollback, is seen.

The three only read and notify, never start a run, so they default to RUNNING: alerting that must
be remembered to be switched on is off the day it is needed, and with no sink configured they
only log. (What launches runs, the schedules and the landing sensor, defaults to STOPPED.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration import serving as serving_files
from orchestration import settings
from orchestration.alerts import Alert, AlertResource, run_link
from orchestration.assets.publish import ServingResource
from orchestration.checks.freshness_checks import FRESHNESS_CHECK

ALERTS_RESOURCE = "alerts"
RUN_END_EVENTS = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)
RUNS_PER_TICK = 50
ANOMALY_MART = "marts.kpi_anomalies"

# Check metadata keys, in order of preference, that hold what was observed / the limit.
_OBSERVED_KEYS = (
    "observed_value",
    "quarantine_share",
    "dagster_dbt/failed_row_count",
    "unexpected_count",
    "error",
)
_THRESHOLD_KEYS = ("threshold", "max_share", "max_lag_days")

_RUNNING = dg.DefaultSensorStatus.RUNNING


# ------------------------------------------------------------------------------ run failures


def run_partition(tags: Mapping[str, str]) -> str | None:
    """The partition a run covered: one key, or a range `start..end` (single-run backfill)."""
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return None


def _step_failure_reason(event: dg.DagsterEvent) -> str:
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description
    error = getattr(data, "error", None)
    if error is None:
        return "failed"
    while error.cause is not None:
        error = error.cause
    return error.message.strip() or error.cls_name  # the message starts with the class name


def _unmaterialized_assets_of_steps(
    instance: dg.DagsterInstance, run_id: str, step_keys: set[str]
) -> list[str]:
    """Assets the failed steps planned but did not materialize (the SQLite event log does not
    keep ASSET_FAILED_TO_MATERIALIZE events, the planned ones it does)."""

    def keys(event_type: dg.DagsterEventType, steps: set[str] | None) -> set[str]:
        records = instance.get_records_for_run(run_id, of_type=event_type).records
        return {
            r.event_log_entry.dagster_event.asset_key.to_user_string()
            for r in records
            if r.event_log_entry.dagster_event.asset_key is not None
            and (steps is None or r.event_log_entry.step_key in steps)
        }

    planned = keys(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, step_keys)
    return sorted(planned - keys(dg.DagsterEventType.ASSET_MATERIALIZATION, None))


def run_failure_alert(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    failure_message: str | None,
    ui_url: str,
) -> Alert:
    """One alert for a failed run: its failed steps, their reasons, the assets not materialized."""
    steps = [
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        ).records
    ]
    reasons = {e.step_key: _step_failure_reason(e).splitlines()[0][:300] for e in steps}
    failed_assets = _unmaterialized_assets_of_steps(instance, run.run_id, set(reasons))
    message = failure_message or f"run of {run.job_name} failed"
    if reasons:
        message += "\n" + "\n".join(f"• {step}: {reason}" for step, reason in reasons.items())
    asset = ", ".join(failed_assets[:5]) + (" …" if len(failed_assets) > 5 else "")
    first_reason = next(iter(reasons.values()), None)
    return Alert(
        kind="run_failure",
        message=message,
        severity="ERROR",
        asset_key=asset or None,
        partition=run_partition(run.tags),
        observed_value=first_reason,
        run_id=run.run_id,
        link=run_link(run.run_id, ui_url),
        job_name=run.job_name,
        details={"failed_steps": ", ".join(reasons) or None},
    )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=_RUNNING,
    description="Alert (webhook / e-mail / log) on every failed run of any job.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    alert = run_failure_alert(
        context.instance, context.dagster_run, context.failure_event.message, alerts.ui_url
    )
    alerts.send([alert], logger=context.log)


# ---------------------------------------------------------------------------- failed checks


def _metadata_value(value: Any) -> Any:
    raw = getattr(value, "value", value)
    if isinstance(raw, float):
        return round(raw, 6)
    return raw


def _first(metadata: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if key in metadata:
            value = _metadata_value(metadata[key])
            if value not in (None, ""):
                return value
    return None


def check_alert(
    evaluation: dg.AssetCheckEvaluation, run: dg.DagsterRun | None, ui_url: str
) -> Alert:
    """The alert for one failed check evaluation."""
    metadata = evaluation.metadata or {}
    observed = _first(metadata, _OBSERVED_KEYS)
    details: dict[str, Any] = {"blocking": evaluation.blocking}
    if "failed_expectations" in metadata:  # a GX suite: how many, and which
        failed = _metadata_value(metadata["failed_expectations"])
        total = _metadata_value(metadata.get("evaluated_expectations"))
        observed = observed or f"{failed} of {total} expectations failed"
        names = _metadata_value(metadata.get("failed_expectation_names")) or []
        details["failed_expectations"] = "; ".join(map(str, names[:5]))
    asset = evaluation.asset_key.to_user_string()
    kind = "freshness" if evaluation.check_name == FRESHNESS_CHECK else "check_failure"
    severity = evaluation.severity.value  # ERROR | WARN
    message = evaluation.description or f"check {evaluation.check_name} on {asset} failed"
    run_id = run.run_id if run else None
    return Alert(
        kind=kind,
        message=message,
        severity="ERROR" if severity == "ERROR" else "WARN",
        asset_key=asset,
        check_name=evaluation.check_name,
        partition=evaluation.partition or (run_partition(run.tags) if run else None),
        observed_value=observed,
        threshold=_first(metadata, _THRESHOLD_KEYS),
        run_id=run_id,
        link=run_link(run_id, ui_url),
        job_name=run.job_name if run else None,
        details=details,
    )


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """Every check evaluation of a run, in order (paged: a pipeline run has hundreds)."""
    found: list[dg.AssetCheckEvaluation] = []
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=1000
        )
        found += [r.event_log_entry.dagster_event.event_specific_data for r in page.records]
        if not page.has_more:
            return found
        cursor = page.cursor


def failed_check_alerts(
    instance: dg.DagsterInstance,
    run_id: str,
    ui_url: str,
    stale_alerted: dict[str, str] | None = None,
) -> list[Alert]:
    """One alert per failed check evaluation of a run (blocking or not, ERROR or WARN).

    Freshness is judged every hour, so a feed that stays stale would alert every hour: with
    `stale_alerted` (asset -> newest partition already alerted, updated in place) a breach alerts
    once per newest partition, and again only after the check passed in between.
    """
    run = instance.get_run_by_id(run_id)
    alerts: list[Alert] = []
    for evaluation in check_evaluations(instance, run_id):
        if stale_alerted is not None and evaluation.check_name == FRESHNESS_CHECK:
            asset = evaluation.asset_key.to_user_string()
            if evaluation.passed:
                stale_alerted.pop(asset, None)
                continue
            newest = str(_metadata_value(evaluation.metadata.get("newest_partition", "")))
            if stale_alerted.get(asset) == newest:
                continue
            stale_alerted[asset] = newest
        if not evaluation.passed:
            alerts.append(check_alert(evaluation, run, ui_url))
    return alerts


def _latest_cursor(instance: dg.DagsterInstance, event_type: dg.DagsterEventType) -> str:
    # Newest first, one record: the cursor returned points at it (or before everything).
    return instance.fetch_run_status_changes(event_type, limit=1, ascending=False).cursor


def finished_runs_since(
    instance: dg.DagsterInstance, cursors: Mapping[str, str], limit: int = RUNS_PER_TICK
) -> tuple[list[str], dict[str, str]]:
    """Run ids that finished (success, failure, cancel) after `cursors`, and the new cursors."""
    runs: list[tuple[int, str]] = []
    new = dict(cursors)
    for event_type in RUN_END_EVENTS:
        result = instance.fetch_run_status_changes(
            event_type, limit=limit, cursor=cursors.get(event_type.value), ascending=True
        )
        runs += [(r.storage_id, r.event_log_entry.run_id) for r in result.records]
        new[event_type.value] = result.cursor
    return [run_id for _, run_id in sorted(runs)], new


@dg.sensor(
    name="alert_on_failed_checks",
    minimum_interval_seconds=30,
    default_status=_RUNNING,
    description="Alert on every failed asset check (blocking or not, ERROR or WARN) of every "
    "finished run; a failed `freshness` check is a freshness alert.",
)
def alert_on_failed_checks(
    context: dg.SensorEvaluationContext, alerts: AlertResource
) -> dg.SkipReason:
    instance = context.instance
    if not context.cursor:
        # First tick: start from now; past runs were someone else's to alert on.
        runs = {t.value: _latest_cursor(instance, t) for t in RUN_END_EVENTS}
        context.update_cursor(json.dumps({"runs": runs, "stale_alerted": {}}))
        return dg.SkipReason("initialised at the latest finished run")
    state = json.loads(context.cursor)
    stale_alerted: dict[str, str] = state.get("stale_alerted", {})
    run_ids, runs = finished_runs_since(instance, state["runs"])
    found = [
        alert
        for run_id in run_ids
        for alert in failed_check_alerts(instance, run_id, alerts.ui_url, stale_alerted)
    ]
    alerts.send(found, logger=context.log)
    context.update_cursor(json.dumps({"runs": runs, "stale_alerted": stale_alerted}))
    return dg.SkipReason(f"{len(run_ids)} finished run(s), {len(found)} failed check(s) alerted")


# ------------------------------------------------------------------------------- anomalies


def anomaly_lookback_days() -> int:
    """Env ANOMALY_ALERT_LOOKBACK_DAYS (default 7): flags older than this many days before the
    newest business date of the mart are history, never alerted (also on the first tick)."""
    return settings.value("ANOMALY_ALERT_LOOKBACK_DAYS")


@dataclass(frozen=True)
class AnomalyCursor:
    """The publish version last read and the (business_date|kpi) flags already alerted that are
    still inside the lookback window (so the cursor stays small)."""

    version: int | None = None
    seen: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: str | None) -> AnomalyCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(version=data.get("version"), seen=tuple(data.get("seen", [])))

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "seen": sorted(self.seen)})


def _fmt_num(value: Any) -> str:
    return "NULL" if value is None else f"{value:.6g}"


def new_anomaly_alerts(
    database: Path, cursor: AnomalyCursor, lookback_days: int, ui_url: str
) -> tuple[list[Alert], AnomalyCursor]:
    """Alerts for flagged rows of the published kpi_anomalies not alerted before."""
    conn = duckdb.connect(str(database), read_only=True)
    try:
        version, run_id = conn.execute(
            f"SELECT version, run_id FROM {serving_files.LOG_TABLE} "
            "ORDER BY version DESC NULLS LAST LIMIT 1"
        ).fetchone() or (None, None)
        if version is not None and version == cursor.version:
            return [], cursor
        (window_start,) = conn.execute(
            f"SELECT max(business_date) - ?::INTEGER FROM {ANOMALY_MART}", [lookback_days]
        ).fetchone()
        cur = conn.execute(
            f"""
            SELECT business_date, kpi, value, baseline_mean, baseline_std, z_score,
                   baseline_points, direction
            FROM {ANOMALY_MART}
            WHERE is_anomaly
              AND business_date >= ?
            ORDER BY business_date, kpi
            """,
            [window_start],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()
    flagged = {f"{row['business_date'].isoformat()}|{row['kpi']}": row for row in rows}
    oldest = window_start.isoformat() if window_start else None
    alerts = []
    for key, row in flagged.items():
        if key in cursor.seen:
            continue
        day = row["business_date"].isoformat()
        alerts.append(
            Alert(
                kind="anomaly",
                severity="WARN",
                message=(
                    f"{row['kpi']} on {day} went {row['direction'] or '?'}: "
                    f"{_fmt_num(row['value'])} against a same-weekday baseline of "
                    f"{_fmt_num(row['baseline_mean'])} ± {_fmt_num(row['baseline_std'])} "
                    f"(z = {_fmt_num(row['z_score'])})"
                ),
                asset_key="marts/kpi_anomalies",
                partition=day,
                observed_value=row["value"],
                threshold=row["baseline_mean"],
                run_id=run_id,
                link=run_link(run_id, ui_url),
                details={
                    "kpi": row["kpi"],
                    "business_date": day,
                    "z_score": row["z_score"],
                    "direction": row["direction"],
                    "publish_version": version,
                },
            )
        )
    # Keep what is still inside the window: an old flag can no longer be "new".
    seen = {k for k in (*cursor.seen, *flagged) if oldest is None or k[:10] >= oldest}
    return alerts, AnomalyCursor(version=version, seen=tuple(sorted(seen)))


@dg.sensor(
    name="alert_on_kpi_anomalies",
    minimum_interval_seconds=120,
    default_status=_RUNNING,
    description="Alert once on each new anomaly flagged in the published marts.kpi_anomalies.",
)
def alert_on_kpi_anomalies(
    context: dg.SensorEvaluationContext, alerts: AlertResource, serving: ServingResource
) -> dg.SkipReason:
    database = serving.resolved_dir / serving_files.DATABASE
    if not database.is_file():
        return dg.SkipReason(f"nothing published yet at {database}")
    cursor = AnomalyCursor.from_json(context.cursor)
    try:
        found, new_cursor = new_anomaly_alerts(
            database, cursor, anomaly_lookback_days(), alerts.ui_url
        )
    except duckdb.Error as exc:
        # e.g. a publish from before the mart existed; retry on the next tick
        return dg.SkipReason(f"cannot read {ANOMALY_MART} from {database}: {exc}")
    alerts.send(found, logger=context.log)
    context.update_cursor(new_cursor.to_json())
    return dg.SkipReason(f"publish v{new_cursor.version}: {len(found)} new anomaly alert(s)")


SENSORS = [alert_on_run_failure, alert_on_failed_checks, alert_on_kpi_anomalies]
