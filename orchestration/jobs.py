"""Jobs: `full_pipeline` (every asset and check but the landing freshness checks, which have a
job of their own); a run loads the dt range of its partition-range tags, then builds and
publishes once."""

import dagster as dg

from orchestration.checks.freshness_checks import freshness_check_keys
from orchestration.contract import FEEDS

# Retries for transient failures (the DuckDB write lock held by another process, a file still
# being synced): two, exponential. Deterministic failures raise dg.Failure(allow_retries=False).
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)

FRESHNESS_CHECK_KEYS = freshness_check_keys(FEEDS)

FULL_PIPELINE_JOB = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*FRESHNESS_CHECK_KEYS),
    description=(
        "Ingest the landing's dt range of every feed, build the dbt project, run every check, "
        "publish. Launch with a partition range (backfill dialog, or `cli pipeline --from --to`)."
    ),
    op_retry_policy=TRANSIENT_RETRY_POLICY,
)

FRESHNESS_CHECKS_JOB = dg.define_asset_job(
    "freshness_checks",
    selection=dg.AssetSelection.checks(*FRESHNESS_CHECK_KEYS),
    description="Is each feed's newest landing partition within FRESHNESS_MAX_LAG_DAYS? "
    "Only lists folders; never blocks or touches the warehouse.",
)
