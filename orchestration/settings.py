"""Every setting of the warehouse, resolved and validated in one place.

A setting comes from the environment, else from the `.env` file at the repository root, else its
default; the deployment file (WAREHOUSE_CONFIG, orchestration/deployment.py) holds the shop's
business settings. `check()` validates them all, with the deployment file and DBT_VARS, before
any step runs: a bad value raises `SettingError`, one line naming the setting, the value and the
fix. `.env.example` documents each setting; relative paths are relative to the repository root.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from orchestration.contract import FEEDS

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
ENV_FILE_VAR = "WAREHOUSE_ENV_FILE"  # tests point it elsewhere; default REPO_ROOT/.env

DEFAULT_LANDING_DIR = "data/landing"
DEFAULT_WAREHOUSE_PATH = "data/warehouse.duckdb"
DEFAULT_SERVING_DIR = "data/serving"
DEFAULT_GX_DOCS_DIR = "data/docs"
DEFAULT_DAGSTER_HOME = "data/dagster_home"
DEFAULT_SPARK_DIR = "data/spark"


class SettingError(ValueError):
    """A setting with a value that cannot work; `str()` is the one line shown to the user."""

    def __init__(self, name: str, value: str, problem: str, fix: str) -> None:
        self.name, self.value = name, value
        super().__init__(f"bad setting {name}={value!r}: {problem}; fix: {fix}")


# ------------------------------------------------------------------------------ value checks
# Each takes the raw text and returns the typed value, or raises ValueError(what is expected).


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not re.fullmatch(r"[+]?\d+", raw) or int(raw) < low:
            raise ValueError(f"expected a whole number of at least {low}")
        return int(raw)

    return parse


def _number_at_least(low: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not value >= low:  # also refuses nan
            raise ValueError(f"expected a number of at least {low:g}")
        return value

    return parse


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise ValueError("expected a share between 0 and 1 (0.01 means 1 %)")
    return value


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("expected 1 or 0 (true/false)")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _text(raw: str) -> str:
    return raw


def _path(kind: str) -> Callable[[str], Path]:
    """A path that may not exist yet; `kind` is `file` or `dir`, what it must not be instead."""

    def parse(raw: str) -> Path:
        if "\0" in raw:
            raise ValueError("expected a path")
        path = resolve_path(raw)
        if kind == "file" and path.is_dir():
            raise ValueError("expected a file path, and this is a folder")
        if kind == "dir" and path.exists() and not path.is_dir():
            raise ValueError("expected a folder, and this is a file")
        return path

    return parse


def _existing_file(raw: str) -> Path:
    path = resolve_path(raw)
    if not path.is_file():
        raise ValueError("no such file")
    return path


def _iso_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("expected a date YYYY-MM-DD") from None


def _memory(raw: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)", raw.strip().lower()):
        raise ValueError("expected a size such as 2GB or 512MB")
    return raw.strip()


def _spark_memory(raw: str) -> str:
    if not re.fullmatch(r"\d+[kmgt]?", raw.strip().lower()):
        raise ValueError("expected a JVM size such as 1g or 512m")
    return raw.strip()


def _url(raw: str) -> str:
    parsed = urlparse(raw.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("expected an http(s):// URL")
    return raw.strip()


def _docs_url(raw: str) -> str:
    if raw.strip() == "file":
        return "file"
    return _url(raw).rstrip("/")


def _emails(raw: str) -> list[str]:
    addresses = [a.strip() for a in raw.split(",") if a.strip()]
    bad = [a for a in addresses if not re.fullmatch(r"[^@\s,]+@[^@\s,]+", a)]
    if bad or not addresses:
        raise ValueError("expected e-mail addresses separated by commas")
    return addresses


def _dbt_vars(raw: str) -> dict[str, Any]:
    from orchestration import deployment

    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0]
        raise ValueError(f"not valid YAML ({problem})") from None
    if not isinstance(parsed, dict):
        raise ValueError("expected a YAML mapping such as {business_timezone: UTC}")
    try:
        return deployment.check_dbt_vars("DBT_VARS", parsed, label="")
    except deployment.DeploymentConfigError as exc:
        raise ValueError(str(exc).removeprefix("DBT_VARS: ")) from None


# ------------------------------------------------------------------------------ the settings


@dataclass(frozen=True)
class Setting:
    """One documented setting: its default, how its text is checked, and a value it refuses."""

    name: str
    default: str
    parse: Callable[[str], Any]
    bad: str  # a value `check()` refuses (tests try each)
    example: str = ""  # a good value for the fix when there is no default
    fix: str = ""  # the fix, when it is more than "set it to a value like the default"


SETTINGS: tuple[Setting, ...] = (
    Setting("LANDING_DIR", DEFAULT_LANDING_DIR, _path("dir"), "README.md"),
    Setting("WAREHOUSE_PATH", DEFAULT_WAREHOUSE_PATH, _path("file"), "orchestration"),
    Setting("SERVING_DIR", DEFAULT_SERVING_DIR, _path("dir"), "README.md"),
    Setting("SERVING_KEEP", "5", _int_at_least(1), "0"),
    Setting("DAGSTER_HOME", DEFAULT_DAGSTER_HOME, _path("dir"), "README.md"),
    Setting("DAGSTER_EVENT_BATCH_SIZE", "1000", _int_at_least(1), "many"),
    Setting(
        "WAREHOUSE_CONFIG",
        "",
        _existing_file,
        "no/such/warehouse.yaml",
        fix="point WAREHOUSE_CONFIG at an existing file (see warehouse.example.yaml), or unset it",
    ),
    Setting(
        "DBT_VARS",
        "",
        _dbt_vars,
        "{business_timezone: Mars/Olympus}",
        fix="give a YAML mapping of dbt vars of dbt_project.yml, e.g. "
        "DBT_VARS='{business_timezone: Europe/Berlin}', or unset it",
    ),
    Setting("PARTITIONS_START_DATE", "2020-01-01", _iso_date, "2020-13-01"),
    Setting("LANDING_SETTLE_SECONDS", "120", _number_at_least(0), "-5"),
    Setting("SCHEDULE_LOOKBACK_DAYS", "3", _int_at_least(1), "0"),
    Setting("DBT_FULL_REFRESH", "0", _flag, "maybe"),
    Setting("DBT_UNIT_TESTS", "0", _flag, "maybe"),
    Setting("DBT_WARM", "1", _flag, "maybe"),
    Setting("DBT_LOG_LEVEL_FILE", "info", _choice("debug", "info", "warn", "error"), "loud"),
    Setting("DBT_TARGET", "duckdb", _choice("duckdb", "spark"), "postgres"),
    Setting("QUARANTINE_MAX_SHARE", "0.01", _share, "1%"),
    Setting("ORPHAN_GRACE_DAYS", "3", _int_at_least(0), "three"),
    Setting("POOL_WAIT_SECONDS", "600", _number_at_least(1), "forever"),
    Setting("GX_DOCS_DIR", DEFAULT_GX_DOCS_DIR, _path("dir"), "README.md"),
    Setting("GX_BACKEND", "auto", _choice("auto", "sql", "pandas"), "spark"),
    Setting("GX_DOCS_URL", "http://127.0.0.1:3100", _docs_url, "docs.example.com"),
    Setting("SPARK_DIR", DEFAULT_SPARK_DIR, _path("dir"), "README.md"),
    Setting("SPARK_RAW_DIR", "", _text, "", "data/spark/raw"),
    Setting("SPARK_DRIVER_MEMORY", "1g", _spark_memory, "lots"),
    Setting("DUCKDB_MEMORY_LIMIT", "2GB", _memory, "2 gigs"),
    Setting("DUCKDB_THREADS", "2", _int_at_least(1), "0"),
    Setting("ALERT_WEBHOOK_URL", "", _url, "hooks.example.com/abc", "https://hooks.example/x"),
    Setting("ALERT_SMTP_HOST", "", _text, "", "smtp.example.com"),
    Setting("ALERT_SMTP_PORT", "587", _int_at_least(1), "smtp"),
    Setting("ALERT_SMTP_STARTTLS", "true", _flag, "sometimes"),
    Setting("ALERT_SMTP_CA_FILE", "", _existing_file, "no/such/ca.pem", "/etc/ssl/ca.pem"),
    Setting("ALERT_SMTP_USER", "", _text, ""),
    Setting("ALERT_SMTP_PASSWORD", "", _text, ""),
    Setting("ALERT_EMAIL_FROM", "warehouse-alerts@localhost", _emails, "alerts"),
    Setting("ALERT_EMAIL_TO", "", _emails, "ops team", "ops@example.com"),
    Setting("DAGSTER_UI_URL", "http://127.0.0.1:3000", _url, "localhost:3000"),
    Setting("ANOMALY_ALERT_LOOKBACK_DAYS", "7", _int_at_least(0), "a week"),
    Setting("FRESHNESS_MAX_LAG_DAYS", "", _int_at_least(0), "-1", "2"),
    Setting("VERBOSE", "0", _flag, "very"),
)
BY_NAME = {s.name: s for s in SETTINGS}
# Settings with a per-feed variant: <NAME>_<FEED>, e.g. QUARANTINE_MAX_SHARE_EVENTS.
PER_FEED = ("QUARANTINE_MAX_SHARE", "FRESHNESS_MAX_LAG_DAYS")


def env_file() -> Path:
    """The `.env` file read under the environment: WAREHOUSE_ENV_FILE, default REPO_ROOT/.env."""
    return resolve_path(os.environ.get(ENV_FILE_VAR) or ".env")


@cache
def _read_env_file(path: str, mtime: float) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SettingError(
                f"{path} line {number}", text, "not NAME=value", "write it as NAME=value"
            )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if value:  # an empty value, as copied from .env.example, means the default
            values[name] = value
    return values


def dotenv() -> dict[str, str]:
    """The non-empty values of the `.env` file, or {} when there is none."""
    path = env_file()
    if not path.is_file():
        return {}
    return _read_env_file(str(path), path.stat().st_mtime)


def raw(name: str) -> str:
    """The text of a setting: environment, else `.env`, else its default (stripped)."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    value = dotenv().get(name, "").strip()
    if value:
        return value
    return BY_NAME[name].default if name in BY_NAME else ""


def value(name: str) -> Any:
    """The typed value of a setting (see SETTINGS); raises SettingError when it is bad."""
    setting = BY_NAME[name]
    text = raw(name)
    if not text:
        return None
    try:
        return setting.parse(text)
    except ValueError as exc:
        raise _error(setting, text, str(exc)) from None


def _error(setting: Setting, text: str, problem: str, name: str = "") -> SettingError:
    name = name or setting.name
    if setting.fix:
        return SettingError(name, text, problem, setting.fix)
    good = setting.default or setting.example
    fix = f"set {name} to a value like {good!r} in the environment or .env"
    if setting.default:
        fix += f", or unset it for the default {setting.default!r}"
    return SettingError(name, text, problem, fix)


def _per_feed_names() -> list[tuple[str, str]]:
    """(setting, variable) of every per-feed variable set: QUARANTINE_MAX_SHARE_ORDERS, …"""
    names = {*os.environ, *dotenv()}
    return sorted(
        (base, name)
        for name in names
        for base in PER_FEED
        if name.startswith(f"{base}_") and raw_env(name)
    )


def raw_env(name: str) -> str:
    """Text of a variable that is not in SETTINGS (per-feed variants): env, else `.env`."""
    return os.environ.get(name, "").strip() or dotenv().get(name, "").strip()


def per_feed_value(base: str, feed: str) -> Any:
    """`<base>_<FEED>` when set, else `<base>` (None when neither is set)."""
    name = f"{base}_{feed.upper()}"
    text = raw_env(name)
    if not text:
        return value(base)
    try:
        return BY_NAME[base].parse(text)
    except ValueError as exc:
        raise _error(BY_NAME[base], text, str(exc), name) from None


def check() -> None:
    """Validate every setting, the per-feed variants, DBT_VARS and the deployment file.

    Raises SettingError (one line) on the first bad one; called before any step runs.
    """
    dotenv()
    for setting in SETTINGS:
        value(setting.name)
    feeds = {feed.upper() for feed in FEEDS}
    for base, name in _per_feed_names():
        suffix = name.removeprefix(f"{base}_")
        if suffix not in feeds:
            raise SettingError(
                name,
                raw_env(name),
                f"no feed {suffix.lower()!r}",
                f"name one of {', '.join(sorted(feeds))} after {base}_",
            )
        per_feed_value(base, suffix)
    from orchestration import deployment

    try:
        deployment.current()
    except deployment.DeploymentConfigError as exc:
        raise SettingError(
            "WAREHOUSE_CONFIG",
            exc.source,
            str(exc).removeprefix(f"{exc.source}: "),
            "edit the file (warehouse.example.yaml lists every key)",
        ) from None


# ------------------------------------------------------------------------------ accessors


def resolve_path(path: str) -> Path:
    """`~` expanded; a relative path is relative to the repository root, not the cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p)


def landing_dir() -> Path:
    return value("LANDING_DIR")


def warehouse_path() -> Path:
    return value("WAREHOUSE_PATH")


def serving_dir() -> Path:
    return value("SERVING_DIR")


def gx_docs_dir() -> Path:
    return value("GX_DOCS_DIR")


def gx_backend() -> str:
    return value("GX_BACKEND")


def dagster_home() -> Path:
    return value("DAGSTER_HOME")


def dbt_target() -> str:
    """`duckdb` or `spark`. `dbt parse` (make prepare) and the run-time `dbt build` must name
    the same target, or dbt parses the project again (the target is in its parse hash)."""
    return value("DBT_TARGET")


def dbt_target_dir() -> Path:
    """dbt's target folder as dagster-dbt resolves it (env DBT_TARGET_PATH, default `target`,
    relative to the dbt project). Each run writes its artifacts to a subfolder of it."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return target if target.is_absolute() else DBT_PROJECT_DIR / target


def spark_dir() -> Path:
    return value("SPARK_DIR")


def duckdb_memory_limit() -> str:
    return value("DUCKDB_MEMORY_LIMIT")


def duckdb_threads() -> int:
    return value("DUCKDB_THREADS")


def verbose() -> bool:
    return value("VERBOSE")


def quarantine_max_share(feed: str) -> float:
    """The quarantine gate of `feed`: QUARANTINE_MAX_SHARE_<FEED>, QUARANTINE_MAX_SHARE, else
    the deployment file's (default 0.01)."""
    from orchestration import deployment

    if raw_env(f"QUARANTINE_MAX_SHARE_{feed.upper()}") or raw_env("QUARANTINE_MAX_SHARE"):
        return per_feed_value("QUARANTINE_MAX_SHARE", feed)
    return deployment.quarantine_max_share(feed)


def dbt_vars() -> dict[str, Any]:
    """dbt vars: the deployment file's, then DBT_VARS (a YAML mapping) over them."""
    from orchestration import deployment

    return {**deployment.dbt_vars(), **(value("DBT_VARS") or {})}


def dbt_vars_args() -> list[str]:
    """dbt's `--vars` option with dbt_vars(), or nothing when there are none."""
    overrides = dict(dbt_vars())
    return ["--vars", json.dumps(overrides)] if overrides else []


def apply_env_defaults(environ: Mapping[str, str] | None = None) -> None:
    """Export `.env` values and the path defaults to this process's environment, so that
    `dg.EnvVar` resources and the dbt subprocess (profiles.yml) see the resolved values."""
    target = os.environ if environ is None else environ
    for name, text in dotenv().items():
        if not os.environ.get(name, "").strip():
            target[name] = text  # type: ignore[index]
    for name in ("LANDING_DIR", "WAREHOUSE_PATH", "SERVING_DIR", "DAGSTER_EVENT_BATCH_SIZE"):
        if not os.environ.get(name, "").strip():
            target[name] = raw(name)  # type: ignore[index]


def process_env() -> dict[str, str]:
    """A copy of this process's environment, for a child process's `env=`."""
    return dict(os.environ)


def set_process_env(values: Mapping[str, str]) -> None:
    """Set variables in this process's environment: the one way other modules hand values to
    child processes that inherit it (dagster-dbt's dbt subprocess, DAGSTER_HOME)."""
    os.environ.update(values)
