"""Jobs: the full pipeline selects every asset and, with them, every asset check."""

import dagster as dg

FULL_PIPELINE_JOB = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Ingest every landing feed, build the dbt project, run every check.",
)
