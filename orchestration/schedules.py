"""Schedules, stopped by default (a laptop's sample landing is always "stale"): turn them on in
the UI once the landing is live. The daily run, a safety net beside the landing sensor, reloads
the last SCHEDULE_LOOKBACK_DAYS dt partitions; the hourly freshness checks notice a feed that
stops delivering within the hour."""

from datetime import timedelta

import dagster as dg

from orchestration import settings
from orchestration.jobs import FRESHNESS_CHECKS_JOB, FULL_PIPELINE_JOB
from orchestration.partitions import DateRange


@dg.schedule(
    name="daily_full_pipeline",
    job=FULL_PIPELINE_JOB,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every day at 02:30 UTC: reload the last SCHEDULE_LOOKBACK_DAYS dt partitions.",
)
def daily_full_pipeline(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    today = context.scheduled_execution_time.date()
    dates = DateRange(today - timedelta(days=settings.get().schedule_lookback_days - 1), today)
    return dg.RunRequest(run_key=None, tags={**dates.tags(), "trigger": "daily_schedule"})


FRESHNESS_CHECKS_HOURLY = dg.ScheduleDefinition(
    name="freshness_checks_hourly",
    job=FRESHNESS_CHECKS_JOB,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

SCHEDULES = [daily_full_pipeline, FRESHNESS_CHECKS_HOURLY]
