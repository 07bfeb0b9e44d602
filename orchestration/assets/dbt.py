"""The dbt project as Dagster assets (Pythonic `@dbt_assets`, one `dbt build` per run).

dbt starts in ~5 s, so the whole project builds in one invocation instead of one per model; the
manifest is parsed once at build time (`make prepare`), not at every definitions load.
"""

import json
import os
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration import deployment, settings
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR
    )
    project.prepare_if_dev()  # only acts under `dagster dev`; CI and make use `make prepare`
    return project


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Maps dbt nodes to asset keys that name the DuckDB relation.

    A model's key is `[schema, name]` (e.g. `marts/daily_sales`), so that a GX suite file
    `expectations/marts.daily_sales.json` and the relation BI tools query share one name. A source
    table's key is `[source schema, table]`, i.e. `raw/<feed>`, the key of the ingest asset that
    writes it, which wires dbt downstream of ingest. Groups follow the dbt folder path.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        name = dbt_resource_props.get("alias") or dbt_resource_props["name"]
        return dg.AssetKey([dbt_resource_props["schema"], name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        folders = fqn[1:-1]
        return "_".join(folders) if folders else "dbt"


TRANSLATOR = WarehouseDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_cli_args(command: str = "build") -> list[str]:
    """`dbt build` plus run-time var overrides from env DBT_VARS."""
    args = [command]
    overrides = settings.dbt_vars()
    if overrides:
        args += ["--vars", json.dumps(overrides)]
    return args


@cache
def build_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        name="dbt_models",
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        # profiles.yml reads WAREHOUSE_PATH; make it the absolute path the resource resolved.
        os.environ["WAREHOUSE_PATH"] = str(warehouse.resolved_path)
        events = dbt.cli(dbt_cli_args(), context=context).stream()
        # each model's metadata names the undelivered feeds it is built from (deployment config)
        yield from deployment.annotate_dbt_events(events, context)

    return dbt_models


def dbt_resource() -> DbtCliResource:
    # The venv's dbt, found next to this interpreter: the venv need not be activated.
    return DbtCliResource(
        project_dir=dbt_project(),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        target="duckdb",
        dbt_executable=str(Path(sys.executable).with_name("dbt")),
    )
