"""Jobs: the full pipeline selects every asset and, with them, every asset check.

The ingest assets are daily-partitioned (single-run backfill policy), dbt and publish are not: a
run carries a dt range in its partition-range tags (see orchestration/partitions.py), loads that
range into raw and then builds and publishes everything once.
"""

import dagster as dg

FULL_PIPELINE_JOB = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description=(
        "Ingest the landing's dt range of every feed, build the dbt project, run every check, "
        "publish. Launch with a partition range (backfill dialog, or `cli pipeline --from --to`)."
    ),
)
