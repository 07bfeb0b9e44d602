"""Schedules. The daily run starts stopped: turn it on in the UI once the landing is live."""

import dagster as dg

from orchestration.jobs import FRESHNESS_CHECKS_JOB, FULL_PIPELINE_JOB

DAILY_FULL_PIPELINE = dg.ScheduleDefinition(
    name="daily_full_pipeline",
    job=FULL_PIPELINE_JOB,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

# Hourly: a feed that stops delivering is noticed within the hour of crossing its lag. Stopped by
# default like the daily run: a laptop's sample landing is always "stale".
FRESHNESS_CHECKS_HOURLY = dg.ScheduleDefinition(
    name="freshness_checks_hourly",
    job=FRESHNESS_CHECKS_JOB,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

SCHEDULES = [DAILY_FULL_PIPELINE, FRESHNESS_CHECKS_HOURLY]
