"""Jobs and schedules. `full_pipeline` runs every asset and check but the landing freshness
checks, which have a job of their own. The schedules are stopped by default (a laptop's sample
landing is always "stale"): turn them on in the UI once the landing is live."""

from datetime import timedelta

import dagster as dg

from orchestration import settings
from orchestration.checks.freshness_checks import build_freshness_checks
from orchestration.contract import FEEDS
from orchestration.partitions import DateRange

# Retries for transient failures (the DuckDB write lock held by another process, a file still
# being synced): two, exponential. Deterministic failures raise dg.Failure(allow_retries=False).
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)

FRESHNESS_CHECKS = build_freshness_checks(FEEDS)

FULL_PIPELINE_JOB = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(FRESHNESS_CHECKS),
    description="Ingest the landing's dt range of every feed, build the dbt project, run every "
    "check, publish. Launch with a partition range (backfill dialog, `cli pipeline --from --to`).",
    op_retry_policy=TRANSIENT_RETRY_POLICY,
)

FRESHNESS_CHECKS_JOB = dg.define_asset_job(
    "freshness_checks",
    selection=dg.AssetSelection.checks(FRESHNESS_CHECKS),
    description="Is each feed's newest landing partition within FRESHNESS_MAX_LAG_DAYS? "
    "Only lists folders; never blocks or touches the warehouse.",
)


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


SCHEDULES = [
    daily_full_pipeline,
    dg.ScheduleDefinition(
        name="freshness_checks_hourly",
        job=FRESHNESS_CHECKS_JOB,
        cron_schedule="15 * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every hour: notice a feed that stops delivering within the hour.",
    ),
]
