"""The dbt project as Dagster assets (Pythonic `@dbt_assets`, one `dbt build` per run).

dbt starts in ~5 s, so the whole project builds in one invocation instead of one per model; the
manifest is parsed once at build time (`make prepare`), not at every definitions load.

Incremental builds (docs/incremental.md): the batch of a build is every raw row loaded after
`batch_since` (and every raw_replaced row replaced after it); `batch_since` is the watermark the
last SUCCESSFUL build recorded in `ops.dbt_build_log`. A build that fails or is killed records
nothing, so the next one redoes its batch. No log row, a changed dbt project or changed DBT_VARS,
env DBT_FULL_REFRESH=1 or run config `full_refresh: true` -> `dbt build --full-refresh`.
"""

import hashlib
import json
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.errors import DagsterDbtError
from pydantic import PrivateAttr

from orchestration import dbt_warm, deployment, settings
from orchestration.cli import prepare as prepare_manifest
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.spark.build import raw_dir, spark_env
from orchestration.spark.export import export_raw

BUILD_LOG = "ops.dbt_build_log"
RAW_SCHEMA = "raw"
REPLACED_SCHEMA = "raw_replaced"
PROJECT_NAME = "ecom_warehouse"  # dbt_project.yml `name`


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR
    )
    # Under `dagster dev` every load brings the manifest up to date (CI and make run `make
    # prepare` first), with `make prepare`'s own code rather than `project.prepare_if_dev()`:
    # dagster-dbt's preparer runs whichever `dbt` (or dbt Fusion's `dbtf`) PATH finds first, none
    # at all where the venv is not activated, and parses at every load. `prepare` runs this
    # interpreter's dbt with the runs' target and vars, and only when the project changed.
    if project.preparer.using_dagster_dev():
        prepare_manifest()
    return project


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Maps dbt nodes to asset keys that name the DuckDB relation.

    A model's key is `[schema, name]` (e.g. `marts/daily_sales`), so that a GX suite file
    `expectations/marts.daily_sales.json` and the relation BI tools query share one name. A source
    table's key is `[source schema, table]`, i.e. `raw/<feed>`, the key of the ingest asset that
    writes it, which wires dbt downstream of ingest. Source raw_replaced (the row versions a
    re-delivered partition removed) keeps its own key `raw_replaced/<feed>` (dagster-dbt refuses
    two dbt sources on one key): an external asset the ingest asset raw/<feed> writes as a side
    table; dbt already runs after raw/<feed>. Groups follow the dbt folder path.
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


@dataclass(frozen=True)
class BuildPlan:
    """What one `dbt build` does: the batch it starts from and the watermark it records."""

    full_refresh: bool
    batch_since: datetime | None  # None = everything (full refresh)
    watermark: datetime | None  # newest _loaded_at / _replaced_at in the warehouse at start
    project_hash: str
    reason: str


def dbt_cli_args(plan: BuildPlan | None = None, command: str = "build") -> list[str]:
    """`dbt build` plus the batch and the run-time var overrides from env DBT_VARS."""
    # The batch goes in env DBT_BATCH_SINCE (dbt_env), not in --vars: a --vars that changes
    # from run to run makes dbt re-parse the whole project each time.
    args = [command, *settings.dbt_vars_args()]
    if plan is not None and plan.full_refresh:
        args.append("--full-refresh")
    if command == "build" and not unit_tests_from_env():
        # Unit tests check the SQL logic on fixed fixtures, not the data: they run in CI
        # (`make test`, tests/dbt), not in every pipeline build (~50 x 0.3-4 s).
        args += ["--exclude", "resource_type:unit_test"]
    return args


BATCH_SINCE_ENV = "DBT_BATCH_SINCE"


# dbt's own defaults for its file log (target/<invocation>/dbt.log): every SQL statement and
# adapter call at debug level and, because dagster-dbt sets DBT_LOG_FORMAT=json for stdout, as
# JSON. In a one-day build that is ~8 MB and ~0.7 s of the dbt step: each of ~1,000 statements
# is an event formatted under the GIL that the dbt threads share (docs/performance.md). The
# pipeline's default keeps the file log at info (each node's start, result and errors) in plain
# text; the SQL dbt ran is in the invocation's target/run/. DBT_LOG_LEVEL_FILE=debug brings the
# statement log back; a variable set in the environment wins over its default here.
DBT_FILE_LOG_DEFAULTS = {
    "DBT_LOG_LEVEL_FILE": "info",
    "DBT_LOG_FORMAT_FILE": "text",
    "DBT_USE_COLORS_FILE": "false",
}


def dbt_env(plan: BuildPlan | None) -> dict[str, str]:
    """Env of the dbt subprocess for `plan`: DBT_BATCH_SINCE (empty = everything is the batch),
    read by the batch_since() macro while dbt executes, and the file-log defaults not set in
    this process's environment (DBT_FILE_LOG_DEFAULTS)."""
    since = plan.batch_since if plan is not None else None
    env = {name: value for name, value in DBT_FILE_LOG_DEFAULTS.items() if not os.environ.get(name)}
    env[BATCH_SINCE_ENV] = since.isoformat(sep=" ") if since is not None else ""
    return env


dbt_target_dir = settings.dbt_target_dir


def keep_partial_parse(run_target: Path) -> None:
    """Make this run's parse state the one the next run starts from.

    dagster-dbt copies target/partial_parse.msgpack into each invocation's own target folder,
    but dbt discards it and parses the whole project again (seconds per run) when the rendered
    profile (warehouse path, DuckDB settings), the target or the --vars differ from those of the
    parse that wrote it: `make prepare` ran with other settings than this deployment's runs. The
    file this run wrote matches its settings, so with unchanged settings the next run only
    re-parses what changed. (A build that reused the warm server's parse writes none; the server
    published its own.) Best effort: a read-only project folder just keeps re-parsing.
    """
    dbt_warm.publish_partial_parse(run_target, dbt_target_dir())


def unit_tests_from_env() -> bool:
    """Env DBT_UNIT_TESTS=1: the pipeline's `dbt build` also runs the dbt unit tests."""
    return settings.value("DBT_UNIT_TESTS")


def project_hash(manifest_path: Path) -> str:
    """Checksum of every model and macro of the parsed project plus the DBT_VARS overrides.

    A change of either can change any past row of an incremental model (a KPI definition, the
    business timezone), so it forces a full refresh rather than a silently mixed table.
    """
    manifest = json.loads(manifest_path.read_text())
    parts = sorted(
        f"{uid}:{node['checksum']['checksum']}"
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
    )
    parts += sorted(
        f"{uid}:{hashlib.sha256(macro['macro_sql'].encode()).hexdigest()}"
        for uid, macro in manifest["macros"].items()
        if uid.startswith(f"macro.{PROJECT_NAME}.")
    )
    parts.append(json.dumps(settings.dbt_vars(), sort_keys=True, default=str))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def ensure_build_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """ops.dbt_build_log, and an empty raw_replaced.<feed> for every raw feed that lacks one.

    The partitioned ingest creates raw_replaced itself; a warehouse loaded before it (or a
    full-refresh ingest) has none, and the batch macros then read an empty table.
    """
    conn.execute("create schema if not exists ops")
    conn.execute(
        f"""
        create table if not exists {BUILD_LOG} (
            run_id varchar,
            started_at timestamp,
            finished_at timestamp,
            batch_since timestamp,
            watermark timestamp,
            full_refresh boolean,
            project_hash varchar
        )
        """
    )
    conn.execute(f"create schema if not exists {REPLACED_SCHEMA}")
    for (table,) in conn.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_type = 'BASE TABLE' "
        # raw._load_log is ingest's bookkeeping, not a feed
        "and table_name not like '\\_%' escape '\\'",
        [RAW_SCHEMA],
    ).fetchall():
        conn.execute(
            f'create table if not exists {REPLACED_SCHEMA}."{table}" as '
            f"select *, cast(null as timestamp) as _replaced_at, "
            f'cast(null as varchar) as _replaced_by from {RAW_SCHEMA}."{table}" where false'
        )


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
    ensure_build_tables(conn)
    watermark = current_watermark(conn)
    digest = project_hash(manifest_path)
    last = conn.execute(
        f"select watermark, project_hash from {BUILD_LOG} order by finished_at desc limit 1"
    ).fetchone()
    if full_refresh:
        reason = "full refresh requested"
    elif last is None or last[0] is None:
        reason = "no successful build recorded"
    elif last[1] != digest:
        reason = "dbt project or DBT_VARS changed since the last build"
    else:
        return BuildPlan(False, last[0], watermark, digest, f"batch since {last[0]}")
    return BuildPlan(True, None, watermark, digest, reason)


def record_build(
    conn: duckdb.DuckDBPyConnection, plan: BuildPlan, run_id: str, started_at: datetime
) -> None:
    """One ops.dbt_build_log row, written only after `dbt build` succeeded."""
    ensure_build_tables(conn)
    conn.execute(
        f"insert into {BUILD_LOG} values (?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            started_at,
            utc_now(),
            plan.batch_since,
            plan.watermark,
            plan.full_refresh,
            plan.project_hash,
        ],
    )


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC, like _loaded_at


# A dbt error worth a retry: the DuckDB file held by another process. Every other dbt error
# (SQL, compile, a failed test) fails the same way again and is not retried.
TRANSIENT_DBT_ERRORS = ("Could not set lock on file", "Conflicting lock is held")


def first_dbt_error(target_path: Path) -> str | None:
    """`<node>: <first line of its error>` of the first failed node in run_results.json (a
    model before a test: a model's error is what its tests then trip over)."""
    results_file = target_path / "run_results.json"
    if not results_file.is_file():
        return None
    results = json.loads(results_file.read_text()).get("results", [])
    results.sort(key=lambda r: not r["unique_id"].startswith("model."))
    for result in results:
        if result.get("status") in ("error", "fail"):
            lines = [ln.strip() for ln in (result.get("message") or "").splitlines() if ln.strip()]
            node = result["unique_id"].split(".")[2]
            cause = lines[1] if len(lines) > 1 and " Error in " in lines[0] else " ".join(lines)
            verb = "failed" if result["status"] == "fail" else "error"
            return f"dbt {verb} in {node}: {cause or 'no message'}"
    return None


def dbt_failure(target_path: Path, error: Exception) -> dg.Failure:
    """The dbt step's failure: its first cause on one line, retried only when transient."""
    line = first_dbt_error(target_path) or str(error).strip().splitlines()[0]
    return dg.Failure(
        description=line,
        allow_retries=any(marker in line for marker in TRANSIENT_DBT_ERRORS),
    )


def full_refresh_from_env() -> bool:
    return settings.value("DBT_FULL_REFRESH")


class DbtBuildConfig(dg.Config):
    """Run config of the dbt step (launchpad): `full_refresh: true` rebuilds every model."""

    full_refresh: bool = False


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
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: DbtBuildConfig,
    ) -> Iterator[Any]:
        # profiles.yml reads WAREHOUSE_PATH; make it the absolute path the resource resolved.
        os.environ["WAREHOUSE_PATH"] = str(warehouse.resolved_path)
        started_at = utc_now()
        # Spark builds from scratch (no incremental strategy there; docs/incremental.md).
        spark = settings.dbt_target() == "spark"
        # The connection is closed before dbt starts: DuckDB allows one writer process.
        with warehouse.connect() as conn:
            plan = plan_build(
                conn,
                Path(project.manifest_path),
                full_refresh=config.full_refresh or full_refresh_from_env() or spark,
            )
        context.log.info(
            f"dbt build: {'full refresh' if plan.full_refresh else 'incremental'} ({plan.reason})"
        )
        if spark:  # DBT_TARGET=spark: raw tables to Parquet first
            spark_dir = settings.spark_dir()
            export_raw(warehouse.resolved_path, raw_dir(spark_dir))
            os.environ.update(spark_env(spark_dir))
        # dagster-dbt hands this process's environment to dbt
        os.environ.update(dbt_env(plan))
        invocation = dbt.cli(dbt_cli_args(plan), context=context)
        try:
            # each model's metadata names the undelivered feeds it is built from (deployment)
            yield from deployment.annotate_dbt_events(invocation.stream(), context)
        except DagsterDbtError as exc:
            raise dbt_failure(invocation.target_path, exc) from None
        keep_partial_parse(invocation.target_path)
        # Reached only when dbt exited 0 (the stream raises otherwise). A run of some models
        # only (a UI selection) records nothing: the others have not seen the batch yet.
        if set(context.selected_asset_keys) != set(context.assets_def.keys):
            context.log.warning("subset of the dbt models built: no ops.dbt_build_log row")
            return
        run_id = context.run.run_id
        with warehouse.connect() as conn:
            record_build(conn, plan, run_id, started_at)

    return dbt_models


class WarehouseDbtCliResource(DbtCliResource):
    """`DbtCliResource` without the start-up costs that buy this project nothing.

    Before it spawns `dbt build`, dagster-dbt runs `dbt --version` in a subprocess (a full dbt
    import plus a request for the latest release: 2-3 s) and builds a dbt adapter in this
    process (dbt's config, profile and macro loading: ~2 s). The version only tells dbt Core from
    the Fusion engine; the adapter only serves `fetch_row_counts()` / `fetch_column_metadata()`,
    which these assets do not call. Both overrides are checked in tests/test_dbt_resource.py, so a
    dagster-dbt upgrade that renames them fails there, not silently.

    And `dbt build` itself imports dbt and parses the project (~3.5 s) before its first model:
    with the `dbt-warm` executable, a warm dbt process does that ahead of the build. The run
    starts one when it initializes its resources, or adopts the one `pipeline` started before
    importing Dagster (orchestration/dbt_warm.py).
    """

    _warm: dbt_warm.WarmDbtServer | None = PrivateAttr(default=None)

    @cached_property
    def _cli_version(self) -> Any:
        # dbt_executable is the dbt of this interpreter's environment (dbt_resource), so the
        # dbt-core package dagster-dbt imported is the CLI that runs.
        if DBT_PYTHON_VERSION is None:  # no dbt-core here (the Fusion engine): ask the CLI
            return super()._cli_version
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        spec = dbt_warm.server_spec(
            self.dbt_executable,
            self.project_dir,
            self.profiles_dir,
            self.target,
            self.profile,
            settings.dbt_vars_args(),
        )
        if spec is not None:
            self._warm = dbt_warm.WarmDbtServer.start_or_adopt(spec)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        warm, self._warm = self._warm, None
        if warm is None:
            return
        tail = warm.log_tail()
        code = warm.stop()
        if context.log is None:
            return
        # 0: it ran the build; -SIGTERM: stopped unused. Anything else is worth a look.
        if code not in (0, -signal.SIGTERM):
            context.log.warning(f"the warm dbt process ended with code {code}:\n{tail}")
        elif "not reusing" in tail:  # the build parsed the project itself (a slower start)
            context.log.info(tail)
        else:
            context.log.debug(tail)


dbt_executable = dbt_warm.executable


def dbt_resource() -> DbtCliResource:
    # The venv's dbt, found next to this interpreter: the venv need not be activated.
    return WarehouseDbtCliResource(
        project_dir=dbt_project(),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        target=settings.dbt_target(),  # env DBT_TARGET: duckdb (default) or spark
        dbt_executable=dbt_executable(),
    )
