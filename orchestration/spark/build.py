"""dbt on the local Spark target (dbt-spark `session`): the same models with the `spark__` macros;
an on-run-start hook declares the raw sources over the Parquet export. All Spark state lives
under SPARK_DIR: one Spark process per folder at a time (its Derby metastore locks it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestration import settings
from orchestration.spark.export import ExportedTable, export_raw

LOG4J2 = Path(__file__).with_name("log4j2.properties")  # quiet Spark


def raw_dir(spark_dir: Path) -> Path:
    """Where the raw Parquet goes: SPARK_RAW_DIR, default `spark_dir`/raw."""
    configured = settings.get().spark_raw_dir
    return settings.resolve_path(configured) if configured else spark_dir / "raw"


def spark_env(spark_dir: Path) -> dict[str, str]:
    """Environment for a dbt process on the spark target with its state under `spark_dir`."""
    conf_dir = spark_dir / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LOG4J2, conf_dir / LOG4J2.name)
    env = settings.process_env()
    return env | {
        "DBT_TARGET": "spark",
        "SPARK_DIR": str(spark_dir),
        "SPARK_RAW_DIR": str(raw_dir(spark_dir)),
        "SPARK_CONF_DIR": str(conf_dir),
        "SPARK_LOCAL_IP": env.get("SPARK_LOCAL_IP", "127.0.0.1"),
        # profiles.yml renders only the selected output, but keep the variable defined.
        "WAREHOUSE_PATH": env.get("WAREHOUSE_PATH") or str(settings.get().warehouse_path),
    }


def dbt_spark_command(
    spark_dir: Path, dbt_vars: Mapping[str, Any] | None = None, extra_args: Sequence[str] = ()
) -> list[str]:
    """`dbt build --target spark --full-refresh` (no incremental), target/logs in `spark_dir`."""
    project = str(settings.DBT_PROJECT_DIR)
    cmd = [str(Path(sys.executable).with_name("dbt")), "build", "--target", "spark"]
    cmd += ["--project-dir", project, "--profiles-dir", project, "--full-refresh"]
    cmd += ["--target-path", str(spark_dir / "dbt_target")]
    cmd += ["--log-path", str(spark_dir / "dbt_logs")]
    # The unit tests of the incremental branch cannot compile where every model is a table.
    cmd += ["--exclude", "tag:incremental_only"]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dict(dbt_vars))]
    return cmd + list(extra_args)


def build(
    warehouse: Path,
    spark_dir: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    extra_args: Sequence[str] = (),
) -> tuple[list[ExportedTable], subprocess.CompletedProcess[str]]:
    """Export the raw tables of `warehouse`, then `dbt build` on Spark (a failure is returned)."""
    spark_dir.mkdir(parents=True, exist_ok=True)
    exported = export_raw(warehouse, raw_dir(spark_dir))
    cmd = dbt_spark_command(spark_dir, dbt_vars, extra_args)
    env, cwd = spark_env(spark_dir), settings.DBT_PROJECT_DIR
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    return exported, result
