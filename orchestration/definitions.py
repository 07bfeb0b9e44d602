"""The composition root: every asset, check, job, schedule, sensor and resource (after
`make prepare`), loaded by `workspace.yaml` (`dagster dev`), the CLI and the tests."""

from __future__ import annotations

import dagster as dg

from orchestration import settings
from orchestration.alerts import alert_resource_from_env
from orchestration.assets.churn import churn_risk
from orchestration.assets.dbt import build_dashboard_specs, build_dbt_assets, dbt_resource
from orchestration.assets.ingest import LandingResource, build_ingest_assets
from orchestration.assets.publish import ServingResource, build_publish_asset
from orchestration.checks.gx_checks import GreatExpectationsResource, build_gx_checks
from orchestration.checks.publish_checks import build_publish_check
from orchestration.jobs import FRESHNESS_CHECKS, FRESHNESS_CHECKS_JOB, FULL_PIPELINE_JOB, SCHEDULES
from orchestration.resources import WarehouseResource
from orchestration.sensors import SENSORS, landing_sensor

# A bad setting stops the load here, in one line (the UI shows it as the code location's error);
# EnvVar-configured resources need the variables set (from .env or the defaults).
settings.apply_env_defaults()

_ingest_assets = build_ingest_assets()
_model_assets = [build_dbt_assets(), churn_risk]  # churn_risk: a model trained on dbt's features
_asset_keys = {key for assets_def in (*_ingest_assets, *_model_assets) for key in assets_def.keys}
_mart_keys = [k for a in _model_assets for k in a.keys if k.path[0] == "marts"]

defs = dg.Definitions(
    assets=[
        *_ingest_assets,
        *_model_assets,
        build_publish_asset(_mart_keys),
        *build_dashboard_specs(),
    ],
    asset_checks=[
        *build_gx_checks(asset_keys=_asset_keys, backend=settings.get().gx_backend),
        build_publish_check(_mart_keys),
        FRESHNESS_CHECKS,
    ],
    jobs=[FULL_PIPELINE_JOB, FRESHNESS_CHECKS_JOB],
    schedules=SCHEDULES,
    sensors=[landing_sensor, *SENSORS],
    resources={
        "landing": LandingResource(root=dg.EnvVar("LANDING_DIR")),
        "warehouse": WarehouseResource(path=dg.EnvVar("WAREHOUSE_PATH")),
        "serving": ServingResource(dir=dg.EnvVar("SERVING_DIR")),
        "dbt": dbt_resource(),
        "gx": GreatExpectationsResource(docs_dir=str(settings.get().gx_docs_dir)),
        "alerts": alert_resource_from_env(),
    },
    # One process runs every step: DuckDB has a single writer, so a process per step buys nothing.
    executor=dg.in_process_executor,
)
