"""The dbt project as Dagster assets: one `dbt build` per run, through dagster-dbt's public API.

A build's batch (docs/incremental.md) is every raw row loaded or replaced after the watermark of
the last SUCCESSFUL build in `ops.dbt_build_log`; dbt reads it from env DBT_BATCH_SINCE, so that
partial parsing holds. No log row, a changed project or dbt vars (undelivered optional columns
included), DBT_FULL_REFRESH=1 or run config `full_refresh: true` -> `--full-refresh`.
"""

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.errors import DagsterDbtError

from orchestration import deployment, settings
from orchestration.ingest.loader import RAW_SCHEMA, REPLACED_SCHEMA
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.spark.build import raw_dir, spark_env
from orchestration.spark.export import export_raw

BUILD_LOG = "ops.dbt_build_log"
# A plain-text dbt.log unless set otherwise (dagster-dbt's JSON stdout would make it JSON too).
DBT_FILE_LOG_DEFAULTS = {"DBT_LOG_FORMAT_FILE": "text", "DBT_USE_COLORS_FILE": "false"}
# The dbt error worth a retry: the DuckDB file held by another process.
TRANSIENT_DBT_ERRORS = ("Could not set lock on file", "Conflicting lock is held")
# Runs dbt under `setpriv --pdeathsig KILL`: dbt dies with the run's process.
DBT_CHILD = Path(__file__).with_name("dbt_child.sh")
VENV_DBT = Path(sys.executable).with_name("dbt")  # the venv need not be activated
# Imported in a thread while this process waits for dbt: churn_risk's and the publish report's.
LATER_IMPORTS = ("sklearn.linear_model", "sklearn.pipeline", "orchestration.report")


def _newest_mtime(root: Path) -> float:
    skip = {"target", "logs", "dbt_packages"}
    paths = [p for p in root.rglob("*") if not skip.intersection(p.relative_to(root).parts)]
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def prepare_manifest(force: bool = False) -> str:
    """`dbt parse` into dbt_project/target/manifest.json unless it is newer than the project.
    Processes take turns (a lock in the target): one parses, the next finds it up to date."""
    target = settings.DBT_PROJECT_DIR / "target"
    target.mkdir(exist_ok=True)
    with (target / ".prepare.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _parse_unless_current(target / "manifest.json", force)


def _parse_unless_current(manifest: Path, force: bool) -> str:
    project = settings.DBT_PROJECT_DIR
    if not force and manifest.exists() and manifest.stat().st_mtime >= _newest_mtime(project):
        return f"dbt manifest up to date: {manifest.relative_to(settings.REPO_ROOT)}"
    settings.apply_env_defaults()
    env = {**settings.process_env(), "WAREHOUSE_PATH": str(settings.get().warehouse_path)}
    # The target and vars of the run's `dbt build`: dbt re-parses everything when they differ.
    cmd = [str(VENV_DBT), "parse", "--quiet", "--project-dir", str(project)]
    cmd += ["--profiles-dir", str(project), "--target", settings.get().dbt_target]
    cmd += settings.get().dbt_vars_args()
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=project)
    return f"dbt manifest parsed in {time.perf_counter() - started:.1f}s"


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=settings.DBT_PROJECT_DIR)  # profiles.yml is there too
    # Under `dagster dev`, the manifest is brought up to date with this interpreter's dbt.
    if project.preparer.using_dagster_dev():
        prepare_manifest()
    return project


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Keys are `[schema, name]` as BI tools and GX name the relation (a source `raw/<feed>` is
    the ingest asset, so dbt runs after ingest); groups follow dbt's folders."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        name = dbt_resource_props.get("alias") or dbt_resource_props["name"]  # sources: no alias
        return dg.AssetKey([dbt_resource_props["schema"], name])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "_".join(dbt_resource_props.get("fqn", [])[1:-1]) or "dbt"


@dataclass(frozen=True)
class BuildPlan:
    """What one `dbt build` does: the batch it starts from and the watermark it records."""

    full_refresh: bool
    batch_since: datetime | None  # None = everything (full refresh)
    watermark: datetime | None  # newest _loaded_at / _replaced_at in the warehouse at start
    project_hash: str
    reason: str
    dbt_vars: dict[str, Any]  # `--vars`; undelivered_feeds names undelivered optional columns too


def dbt_cli_args(plan: BuildPlan) -> list[str]:
    """`dbt build`, the dbt vars, `--full-refresh` when planned; unit tests only when asked
    (DBT_UNIT_TESTS=1): they check SQL logic on fixtures, which CI does, not the data."""
    args = ["build", *(["--vars", json.dumps(plan.dbt_vars)] if plan.dbt_vars else [])]
    args += ["--full-refresh"] * plan.full_refresh
    if not settings.get().dbt_unit_tests:
        args += ["--exclude", "resource_type:unit_test"]
    return args


def dbt_env(plan: BuildPlan, warehouse_path: Path) -> dict[str, str]:
    """What the dbt subprocess must find in the environment: profiles.yml reads WAREHOUSE_PATH,
    DBT_CHILD reads WAREHOUSE_DBT, the batch models DBT_BATCH_SINCE."""
    current = settings.process_env()
    env = {name: value for name, value in DBT_FILE_LOG_DEFAULTS.items() if not current.get(name)}
    env["DBT_LOG_LEVEL_FILE"] = settings.get().dbt_log_level_file
    env["DBT_BATCH_SINCE"] = plan.batch_since.isoformat(sep=" ") if plan.batch_since else ""
    env["WAREHOUSE_PATH"] = str(warehouse_path)
    env["WAREHOUSE_DBT"] = str(VENV_DBT)
    return env


def keep_partial_parse(run_target: Path) -> None:
    """Make this run's parse state (target/<invocation>/partial_parse.msgpack) the one the next
    run starts from: dagster-dbt copies target/partial_parse.msgpack into each invocation."""
    source = run_target / "partial_parse.msgpack"
    if source.is_file():
        target = settings.get().dbt_target_dir / source.name
        partial = target.with_name(f"{source.name}.{run_target.name}.tmp")  # one per invocation
        shutil.copyfile(source, partial)
        partial.replace(target)


def project_hash(manifest_path: Path, dbt_vars: Mapping[str, Any]) -> str:
    """Checksum of every model and macro of the parsed project plus the dbt vars: a change of
    either can change any past row of an incremental model, so it forces a full refresh."""
    manifest = json.loads(manifest_path.read_text())
    parts = sorted(
        f"{uid}:{node['checksum']['checksum']}"
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
    )
    parts += sorted(
        f"{uid}:{hashlib.sha256(macro['macro_sql'].encode()).hexdigest()}"
        for uid, macro in manifest["macros"].items()
        if macro["package_name"] == manifest["metadata"]["project_name"]
    )
    parts.append(json.dumps(dbt_vars, sort_keys=True, default=str))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def current_watermark(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """Newest _loaded_at in raw and _replaced_at in raw_replaced: what a build has seen."""
    columns = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where (table_schema = ? and column_name = '_loaded_at') "
        "or (table_schema = ? and column_name = '_replaced_at')",
        [RAW_SCHEMA, REPLACED_SCHEMA],
    ).fetchall()
    if not columns:
        return None
    union = " union all ".join(
        f'select max({column}) as ts from {schema}."{table}"' for schema, table, column in columns
    )
    return conn.execute(f"select max(ts) from ({union})").fetchone()[0]


def plan_build(
    conn: duckdb.DuckDBPyConnection, manifest_path: Path, full_refresh: bool = False
) -> BuildPlan:
    """The batch of the next build, from the last successful build in ops.dbt_build_log."""
    conn.execute("create schema if not exists ops")
    conn.execute(
        f"create table if not exists {BUILD_LOG} (run_id varchar, started_at timestamp, "
        "finished_at timestamp, batch_since timestamp, watermark timestamp, "
        "full_refresh boolean, project_hash varchar)"
    )
    watermark = current_watermark(conn)
    dbt_vars = deployment.dbt_vars(deployment.undelivered_columns(conn))
    digest = project_hash(manifest_path, dbt_vars)
    last = conn.execute(
        f"select watermark, project_hash from {BUILD_LOG} order by finished_at desc limit 1"
    ).fetchone()
    if full_refresh:
        reason = "full refresh requested"
    elif last is None or last[0] is None:
        reason = "no successful build recorded"
    elif last[1] != digest:
        reason = "dbt project or dbt vars changed since the last build"
    else:
        return BuildPlan(False, last[0], watermark, digest, f"batch since {last[0]}", dbt_vars)
    return BuildPlan(True, None, watermark, digest, reason, dbt_vars)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC, like _loaded_at


def dbt_failure(target_path: Path, error: Exception) -> dg.Failure:
    """The dbt step's failure, retried only when transient: `dbt error in <node>: <cause>` of the
    first failed node in run_results.json, else the first line of `error`."""
    results_file = target_path / "run_results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    failed = [r for r in results.get("results", []) if r.get("status") in ("error", "fail")]
    if failed:  # a model first: its error is what its tests then trip over
        result = min(failed, key=lambda r: not r["unique_id"].startswith("model."))
        lines = [ln.strip() for ln in (result.get("message") or "").splitlines() if ln.strip()]
        node = result["unique_id"].split(".")[2]
        cause = lines[1] if len(lines) > 1 and " Error in " in lines[0] else " ".join(lines)
        verb = "failed" if result["status"] == "fail" else "error"
        line = f"dbt {verb} in {node}: {cause or 'no message'}"
    else:
        line = str(error).strip().splitlines()[0]
    transient = any(marker in line for marker in TRANSIENT_DBT_ERRORS)
    return dg.Failure(description=line, allow_retries=transient)


class DbtBuildConfig(dg.Config):
    """Run config of the dbt step (launchpad): `full_refresh: true` rebuilds every model."""

    full_refresh: bool = False


@cache
def build_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        name="dbt_models",
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: DbtBuildConfig,
    ) -> Iterator[Any]:
        started_at = utc_now()
        spark = settings.get().dbt_target == "spark"  # Spark builds from scratch (no incremental)
        full_refresh = config.full_refresh or settings.get().dbt_full_refresh or spark
        # closed before dbt starts: DuckDB allows one writer process
        with warehouse.connect() as conn:
            plan = plan_build(conn, Path(project.manifest_path), full_refresh=full_refresh)
        mode = "full refresh" if plan.full_refresh else "incremental"
        context.log.info(f"dbt build: {mode} ({plan.reason})")
        env = dbt_env(plan, warehouse.resolved_path)  # dagster-dbt hands this env on to dbt
        if spark:  # raw tables to Parquet first
            export_raw(warehouse.resolved_path, raw_dir(settings.get().spark_dir))
            env.update(spark_env(settings.get().spark_dir))
        settings.set_process_env(env)
        invocation = dbt.cli(dbt_cli_args(plan), context=context)
        threading.Thread(target=lambda: [*map(import_module, LATER_IMPORTS)], daemon=True).start()
        try:  # each model's metadata names the undelivered feeds it is built from
            columns = plan.dbt_vars.get("undelivered_feeds", ())
            yield from deployment.annotate_dbt_events(invocation.stream(), context, columns)
        except DagsterDbtError as exc:
            raise dbt_failure(invocation.target_path, exc) from None
        keep_partial_parse(invocation.target_path)
        # A UI selection of some models records nothing: the others have not seen the batch.
        if set(context.selected_asset_keys) != set(context.assets_def.keys):
            context.log.warning("subset of the dbt models built: no ops.dbt_build_log row")
            return
        row = [context.run.run_id, started_at, utc_now(), plan.batch_since, plan.watermark]
        row += [plan.full_refresh, plan.project_hash]
        with warehouse.connect() as conn:
            conn.execute(f"insert into {BUILD_LOG} values (?, ?, ?, ?, ?, ?, ?)", row)

    return dbt_models


def dbt_resource() -> DbtCliResource:
    """dagster-dbt's resource; it runs the venv's dbt through DBT_CHILD where `setpriv` exists."""
    return DbtCliResource(
        project_dir=dbt_project(),
        target=settings.get().dbt_target,  # duckdb (default) or spark
        dbt_executable=str(DBT_CHILD if shutil.which("setpriv") else VENV_DBT),
    )


def build_dashboard_specs() -> list[dg.AssetSpec]:
    """The dbt exposures as assets (group `dashboards`): the page's URL, the marts it shows and
    its `meta.dagster_deps` (assets outside dbt), so the lineage ends in what analysts open."""
    manifest = json.loads(Path(dbt_project().manifest_path).read_text())
    key_of = WarehouseDbtTranslator().get_asset_key
    specs = []
    for exposure in manifest["exposures"].values():
        deps = [key_of(manifest["nodes"][uid]) for uid in exposure["depends_on"]["nodes"]]
        deps += map(dg.AssetKey.from_user_string, exposure["meta"].get("dagster_deps", []))
        url = exposure.get("url")
        spec = dg.AssetSpec(
            key=["dashboards", exposure["name"]],
            deps=deps,
            description=exposure.get("description"),
            group_name="dashboards",
            kinds={"evidence"},
            metadata={"url": dg.MetadataValue.url(url)} if url else None,
        )
        specs.append(spec)
    return specs
