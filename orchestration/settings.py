"""Paths and run-time settings from the environment (documented in .env.example and the README).

Relative paths are resolved against the repository root so that Dagster, dbt (which runs with
its own working directory) and the tests all agree on one file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_WAREHOUSE_PATH = "data/warehouse.duckdb"
DEFAULT_SERVING_DIR = "data/serving"
DEFAULT_GX_DOCS_DIR = "data/docs"
DEFAULT_GX_BACKEND = "auto"
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"
DEFAULT_DUCKDB_THREADS = 2


def resolve_path(path: str) -> Path:
    """`~` expanded; a relative path is relative to the repository root, not the cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p)


def warehouse_path() -> Path:
    """Working DuckDB database: env WAREHOUSE_PATH, default data/warehouse.duckdb."""
    return resolve_path(os.environ.get("WAREHOUSE_PATH") or DEFAULT_WAREHOUSE_PATH)


def serving_dir() -> Path:
    """Published serving database and Parquet files: env SERVING_DIR, default data/serving."""
    return resolve_path(os.environ.get("SERVING_DIR") or DEFAULT_SERVING_DIR)


def gx_docs_dir() -> Path:
    """GX Data Docs site built by the checks: env GX_DOCS_DIR, default data/docs."""
    return resolve_path(os.environ.get("GX_DOCS_DIR") or DEFAULT_GX_DOCS_DIR)


def gx_backend() -> str:
    """How the GX checks reach the data: env GX_BACKEND, `auto` (default), `sql` or `pandas`."""
    return (os.environ.get("GX_BACKEND") or DEFAULT_GX_BACKEND).strip().lower()


DEFAULT_DBT_TARGET = "duckdb"
DEFAULT_SPARK_DIR = "data/spark"


def dbt_target() -> str:
    """dbt target (profiles.yml output): env DBT_TARGET, `duckdb` (default) or `spark`.

    `dbt parse` (make prepare) and the run-time `dbt build` must name the same target, or dbt
    discards the parsed project and parses it again (the target is in its partial-parse hash).
    """
    return (os.environ.get("DBT_TARGET") or DEFAULT_DBT_TARGET).strip().lower()


def dbt_target_dir() -> Path:
    """dbt's target folder as dagster-dbt resolves it: env DBT_TARGET_PATH, default `target`,
    relative to the dbt project. Each run writes its artifacts to a subfolder of it."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return target if target.is_absolute() else DBT_PROJECT_DIR / target


def spark_dir() -> Path:
    """State of the Spark target (raw Parquet, warehouse, metastore): env SPARK_DIR."""
    return resolve_path(os.environ.get("SPARK_DIR") or DEFAULT_SPARK_DIR)


def duckdb_memory_limit() -> str:
    """DuckDB memory_limit of every pipeline connection and of dbt: env DUCKDB_MEMORY_LIMIT."""
    return os.environ.get("DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT


def duckdb_threads() -> int:
    """DuckDB threads of every pipeline connection and of dbt: env DUCKDB_THREADS."""
    raw = os.environ.get("DUCKDB_THREADS", "").strip()
    threads = int(raw) if raw else DEFAULT_DUCKDB_THREADS
    if threads < 1:
        raise ValueError(f"DUCKDB_THREADS must be a positive integer, got {raw!r}")
    return threads


def dbt_vars() -> dict:
    """dbt vars: the deployment config's (WAREHOUSE_CONFIG), then env DBT_VARS over them.

    DBT_VARS is a YAML mapping such as `{business_timezone: UTC}`.
    """
    from orchestration import deployment  # imports settings: no import at module level

    base = deployment.dbt_vars()
    raw = os.environ.get("DBT_VARS", "").strip()
    if not raw:
        return base
    parsed = yaml.safe_load(raw)
    if not isinstance(parsed, dict):
        raise ValueError(f"DBT_VARS must be a YAML mapping, got: {raw!r}")
    return {**base, **parsed}


def dbt_vars_args() -> list[str]:
    """dbt's `--vars` option with dbt_vars(), or nothing when there are none."""
    overrides = dict(dbt_vars())
    return ["--vars", json.dumps(overrides)] if overrides else []


def apply_env_defaults() -> None:
    """Set the documented defaults for unset env vars, so `dg.EnvVar` resources resolve."""
    os.environ.setdefault("LANDING_DIR", DEFAULT_LANDING_DIR)
    os.environ.setdefault("WAREHOUSE_PATH", DEFAULT_WAREHOUSE_PATH)
    os.environ.setdefault("SERVING_DIR", DEFAULT_SERVING_DIR)
    # Dagster writes a partitioned step's events in batches of this size (read per event;
    # orchestration/dagster_storage.py stores a batch in one transaction).
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")


def dagster_home() -> Path:
    """Dagster instance folder: env DAGSTER_HOME, default data/dagster_home."""
    return resolve_path(os.environ.get("DAGSTER_HOME") or "data/dagster_home")
