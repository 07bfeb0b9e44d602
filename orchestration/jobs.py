"""Jobs: the full pipeline selects every asset and, with them, every asset check except the
landing freshness checks, which run on their own job (see checks/freshness_checks.py).

The ingest assets are daily-partitioned (single-run backfill policy), dbt and publish are not: a
run carries a dt range in its partition-range tags (see orchestration/partitions.py), loads that
range into raw and then builds and publishes everything once.
"""

import dagster as dg

from orchestration.checks.freshness_checks import freshness_check_keys
from orchestration.contract import FEEDS

# Retries for transient failures: the DuckDB write lock held by another process (a concurrent
# run started from the UI, a tool that opened the working file read-write), a landing file still
# being synced, a full disk that was cleaned. Two retries after 10 s and 20 s (exponential)
# outlast a short lock without hiding a real outage for long. What is not transient is not
# retried: a rejected landing file, a failed `dbt build` other than a lock error, and publish's
# "checks failed" raise `dg.Failure(allow_retries=False)`; a failed blocking check is not an
# exception at all.
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
