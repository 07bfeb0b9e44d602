"""Schedules. The daily run starts stopped: turn it on in the UI once the landing is live."""

import dagster as dg

from orchestration.jobs import FULL_PIPELINE_JOB

DAILY_FULL_PIPELINE = dg.ScheduleDefinition(
    name="daily_full_pipeline",
    job=FULL_PIPELINE_JOB,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

SCHEDULES = [DAILY_FULL_PIPELINE]
