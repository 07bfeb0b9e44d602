"""Every setting of the warehouse, resolved and validated once, in one `Settings` object.

A setting comes from the environment, else the `.env` file (WAREHOUSE_ENV_FILE, default `.env`),
else the deployment file (WAREHOUSE_CONFIG, default `warehouse.yaml` when present), else its
default (`.env.example` and `warehouse.example.yaml` document them); relative paths are relative
to the repository root. A bad value raises `SettingError`: one line naming the setting, the value
and the fix. This is the only module that reads or writes the process environment.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any, get_type_hints
from zoneinfo import available_timezones

import yaml

from orchestration.contract import FEEDS

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
ENV_FILE_VAR = "WAREHOUSE_ENV_FILE"
DEFAULT_CONFIG = REPO_ROOT / "warehouse.yaml"
DEFAULT_GX_DOCS_DIR = "data/docs"
# Settings with a variant per feed: QUARANTINE_MAX_SHARE_EVENTS, or `<name>_per_feed` in the file.
PER_FEED = ("QUARANTINE_MAX_SHARE", "FRESHNESS_MAX_LAG_DAYS")


class SettingError(ValueError):
    """A setting with a value that cannot work; `str()` is the one line shown to the user."""

    def __init__(self, name: str, value: str, problem: str, fix: str) -> None:
        super().__init__(f"bad setting {name}={value!r}: {problem}; fix: {fix}")


class DeploymentConfigError(ValueError):
    """The deployment file is malformed; the message names the file and the key."""

    def __init__(self, source: str, problem: str) -> None:
        self.source, self.problem = source, problem
        super().__init__(f"{source}: {problem}")


def resolve_path(path: str | Path) -> Path:
    """`~` expanded; a relative path is relative to the repository root, not the cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p)


def _check(
    convert: Callable[[str], Any], expected: str, ok: Callable[[Any], Any] = lambda _: True
) -> Callable[[str], Any]:
    """Convert a setting's text; refuse it unless `ok(value)`, saying `expected`."""

    def parse(raw: str) -> Any:
        try:
            value = convert(raw.strip())
            if ok(value):
                return value
        except (ValueError, KeyError):
            pass
        raise ValueError(f"expected {expected}")

    return parse


def _whole(low: int) -> Callable[[str], int]:
    return _check(int, f"a whole number of at least {low}", lambda v: v >= low)


def _at_least(low: float) -> Callable[[str], float]:
    return _check(float, f"a number of at least {low:g}", lambda v: v >= low)  # nan is not


def _one_of(*options: str) -> Callable[[str], str]:
    return _check(str.lower, f"one of {', '.join(options)}", lambda v: v in options)


def _like(regex: str, expected: str) -> Callable[[str], str]:
    return _check(str, expected, lambda v: re.fullmatch(regex, v.lower()))


def _dbt_vars(raw: str) -> dict[str, Any]:
    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(parsed, dict):
        raise ValueError("expected a YAML mapping such as {business_timezone: UTC}")
    return check_dbt_vars(parsed, label="")


FLAGS = {"1": True, "true": True, "yes": True, "on": True}
FLAGS |= {"": False, "0": False, "false": False, "no": False, "off": False}
FLAG = _check(lambda text: FLAGS[text.lower()], "1 or 0 (true/false)")
SHARE = _check(float, "a share between 0 and 1 (0.01 means 1 %)", lambda v: 0 <= v <= 1)
DATE = _check(date.fromisoformat, "a date YYYY-MM-DD")
URL = _like(r"https?://[^/?#]+.*", "an http(s):// URL")
DOCS_URL = _check(lambda t: "file" if t == "file" else URL(t).rstrip("/"), "an http(s):// URL")
EMAILS = _check(
    lambda text: [address.strip() for address in text.split(",") if address.strip()],
    "e-mail addresses separated by commas",
    lambda found: found and all(re.fullmatch(r"[^@\s,]+@[^@\s,]+", a) for a in found),
)
EXISTING_FILE = _check(resolve_path, "an existing file", Path.is_file)
# Paths that may not exist yet: a file path is no folder, a folder no file.
FILE_PATH = _check(resolve_path, "a file path, not a folder", lambda p: not p.is_dir())
DIR_PATH = _check(resolve_path, "a folder, not a file", lambda p: p.is_dir() or not p.exists())
SIZE = _like(r"\d+(\.\d+)?\s*(b|[kmgt]i?b)", "a size such as 2GB or 512MB")
JVM_SIZE = _like(r"\d+[kmgt]?", "a JVM size such as 1g or 512m")


@dataclass(frozen=True)
class Setting:
    """One documented setting: its default and how its text is checked."""

    default: str
    parse: Callable[[str], Any]
    example: str = ""  # a good value for the fix when there is no default
    fix: str = ""  # the fix, when it is more than "set it to a value like the default"
    name: str = ""  # the variable: the Settings field's name in capitals

    def read(self, text: str, name: str = "") -> Any:
        """The typed value of `text` (None when empty); SettingError naming `name` if bad."""
        name = name or self.name
        try:
            return self.parse(text) if text else None
        except ValueError as exc:
            good = self.default or self.example
            fix = f"set {name} to a value like {good!r} in the environment or .env"
            if self.default:
                fix += f", or unset it for the default {self.default!r}"
            raise SettingError(name, text, str(exc), self.fix or fix) from None


CONFIG_FIX = "point WAREHOUSE_CONFIG at an existing file (see warehouse.example.yaml), or unset it"
DBT_VARS_FIX = "give a YAML mapping of dbt_project.yml's vars, e.g. '{currency: EUR}', or unset it"


@dataclass(frozen=True)
class Settings:
    """Every setting, typed: a field annotated with its `Setting`, named as its variable."""

    landing_dir: Annotated[Path, Setting("data/landing", DIR_PATH)]
    warehouse_path: Annotated[Path, Setting("data/warehouse.duckdb", FILE_PATH)]
    serving_dir: Annotated[Path, Setting("data/serving", DIR_PATH)]
    serving_keep: Annotated[int, Setting("5", _whole(1))]
    dagster_home: Annotated[Path, Setting("data/dagster_home", DIR_PATH)]
    warehouse_config: Annotated[Path | None, Setting("", EXISTING_FILE, fix=CONFIG_FIX)]
    dbt_vars: Annotated[dict[str, Any] | None, Setting("", _dbt_vars, fix=DBT_VARS_FIX)]
    partitions_start_date: Annotated[date, Setting("2020-01-01", DATE)]
    landing_settle_seconds: Annotated[float, Setting("120", _at_least(0))]
    schedule_lookback_days: Annotated[int, Setting("3", _whole(1))]
    dbt_full_refresh: Annotated[bool, Setting("0", FLAG)]
    dbt_unit_tests: Annotated[bool, Setting("0", FLAG)]
    dbt_log_level_file: Annotated[str, Setting("info", _one_of("debug", "info", "warn", "error"))]
    dbt_target: Annotated[str, Setting("duckdb", _one_of("duckdb", "spark"))]
    quarantine_max_share: Annotated[float, Setting("0.01", SHARE)]
    orphan_grace_days: Annotated[int, Setting("3", _whole(0))]
    pool_wait_seconds: Annotated[float, Setting("600", _at_least(1))]
    gx_docs_dir: Annotated[Path, Setting(DEFAULT_GX_DOCS_DIR, DIR_PATH)]
    gx_backend: Annotated[str, Setting("auto", _one_of("auto", "sql", "pandas"))]
    gx_docs_url: Annotated[str, Setting("http://127.0.0.1:3100", DOCS_URL)]
    spark_dir: Annotated[Path, Setting("data/spark", DIR_PATH)]
    spark_raw_dir: Annotated[str | None, Setting("", str, "data/spark/raw")]
    spark_driver_memory: Annotated[str, Setting("1g", JVM_SIZE)]
    duckdb_memory_limit: Annotated[str, Setting("2GB", SIZE)]
    duckdb_threads: Annotated[int, Setting("2", _whole(1))]
    alert_webhook_url: Annotated[str | None, Setting("", URL, "https://hooks.example/x")] = field(
        repr=False
    )  # a secret: the URL holds the token
    alert_smtp_host: Annotated[str | None, Setting("", str, "smtp.example.com")]
    alert_smtp_port: Annotated[int, Setting("587", _whole(1))]
    alert_smtp_starttls: Annotated[bool, Setting("true", FLAG)]
    alert_smtp_ca_file: Annotated[Path | None, Setting("", EXISTING_FILE, "ca.pem")]
    alert_smtp_user: Annotated[str | None, Setting("", str)] = field(repr=False)
    alert_smtp_password: Annotated[str | None, Setting("", str)] = field(repr=False)
    alert_email_from: Annotated[list[str], Setting("warehouse-alerts@localhost", EMAILS)]
    alert_email_to: Annotated[list[str] | None, Setting("", EMAILS, "ops@example.com")]
    dagster_ui_url: Annotated[str, Setting("http://127.0.0.1:3000", URL)]
    anomaly_alert_lookback_days: Annotated[int, Setting("7", _whole(0))]
    freshness_max_lag_days: Annotated[int, Setting("2", _whole(0))]
    verbose: Annotated[bool, Setting("0", FLAG)]

    deployment: Deployment = field(repr=False)
    per_feed: Mapping[str, Mapping[str, Any]] = field(repr=False)  # {base: {feed: value}}
    environ: Mapping[str, str] = field(repr=False)  # what the environment and .env set
    inputs: tuple[Any, ...] = field(repr=False)  # the variables and files resolved from

    def for_feed(self, base: str, feed: str) -> Any:
        """A PER_FEED setting of `feed`: <BASE>_<FEED>, else <BASE>; each env before the file."""
        return self.per_feed[base].get(feed, getattr(self, base.lower()))

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's target folder as dagster-dbt resolves it (DBT_TARGET_PATH, default `target`)."""
        target = Path(self.environ.get("DBT_TARGET_PATH") or "target")
        return target if target.is_absolute() else DBT_PROJECT_DIR / target

    @property
    def all_dbt_vars(self) -> dict[str, Any]:
        """dbt's `--vars`: the deployment file's, then DBT_VARS over them."""
        return {**self.deployment.dbt_vars, **(self.dbt_vars or {})}

    def dbt_vars_args(self) -> list[str]:
        """dbt's `--vars` option with `all_dbt_vars`, or nothing when there are none."""
        return ["--vars", json.dumps(self.all_dbt_vars)] if self.all_dbt_vars else []

    def is_current(self) -> bool:
        """Whether this process's variables and the files read are as they were at `load()`."""
        variables, stamps = self.inputs
        return variables == _variables(os.environ) and all(_stamp(p) == s for p, s in stamps)


@dataclass(frozen=True)
class Deployment:
    """A validated deployment file: its feeds, its dbt vars and its per-feed settings."""

    source: str  # the file read, or "defaults"
    feeds: tuple[str, ...] = tuple(FEEDS)
    dbt_overrides: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)  # {"QUARANTINE_MAX_SHARE": "0.05"}

    def delivers(self, feed: str) -> bool:
        return feed in self.feeds

    @property
    def dbt_vars(self) -> dict[str, Any]:
        """The vars the file sets, and `undelivered_feeds` (macro empty_if_feeds_missing)."""
        undelivered = [f for f in FEEDS if f not in self.feeds]
        return {**self.dbt_overrides, **({"undelivered_feeds": undelivered} if undelivered else {})}


SETTINGS: tuple[Setting, ...] = tuple(
    replace(meta, name=name.upper())
    for name, hint in get_type_hints(Settings, include_extras=True).items()
    for meta in getattr(hint, "__metadata__", ())
)
BY_NAME = {s.name: s for s in SETTINGS}
FILE_KEYS = {"feeds", "business_timezone", "currency", "dbt_vars"}
FILE_KEYS |= {key for base in PER_FEED for key in (base.lower(), f"{base.lower()}_per_feed")}


@cache
def dbt_project_vars() -> dict[str, Any]:
    """The vars and defaults declared in dbt_project/dbt_project.yml."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})


def _feed_names(key: str, names: Iterable[Any]) -> list[str]:
    if bad := [n for n in names if not isinstance(n, str) or n not in FEEDS]:
        problem = f"{key}: unknown feed(s) {bad}; the contract's feeds are {', '.join(FEEDS)}"
        raise ValueError(problem)
    return list(names)


def _same_kind(default: Any, value: Any) -> bool:
    """A var keeps the kind of its dbt_project.yml default: number, text, boolean, list."""
    if default is None or value is None:
        return True  # e.g. as_of_date: null by default, a date string when set
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)  # anomaly_z: 3 may well become 2.5
    return isinstance(value, type(default))


def check_dbt_vars(raw_vars: Mapping[Any, Any], label: str = "dbt_vars") -> dict[str, Any]:
    """Check dbt var overrides: known names of their default's kind, a time zone, a currency."""
    known, checked = dbt_project_vars(), dict(raw_vars)
    prefix, dotted = (f"{label}: ", f"{label}.") if label else ("", "")
    for name, value in checked.items():
        if name == "undelivered_feeds":
            problem = f"{dotted}undelivered_feeds is derived from `feeds`: list the feeds there"
        elif name not in known:
            problem = f"{prefix}unknown var {name!r}; known: {', '.join(sorted(known))}"
        elif not _same_kind(known[name], value):
            problem = (
                f"{dotted}{name} must be of the kind of its default {known[name]!r}, got {value!r}"
            )
        elif name == "business_timezone" and value not in available_timezones():
            problem = f"business_timezone {value!r} is not an IANA time zone (e.g. Europe/Berlin)"
        elif name == "currency" and not re.fullmatch("[A-Za-z]{3}", str(value)):
            problem = f"currency must be a 3-letter ISO 4217 code (EUR), got {value!r}"
        else:
            continue
        raise ValueError(problem)
    if "currency" in checked:
        checked["currency"] = checked["currency"].upper()
    return checked


def _file_settings(doc: Mapping[str, Any]) -> dict[str, str]:
    """The PER_FEED settings the file sets, checked as their variables are, as text."""
    found: dict[str, str] = {}
    for base in PER_FEED:
        key = base.lower()
        per_feed = doc.get(f"{key}_per_feed") or {}
        if not isinstance(per_feed, dict):
            raise ValueError(f"{key}_per_feed must be a mapping feed: value")
        _feed_names(f"{key}_per_feed", per_feed)
        pairs = [(key, base, doc.get(key))]
        pairs += [(f"{key}_per_feed.{f}", f"{base}_{f.upper()}", v) for f, v in per_feed.items()]
        for label, name, value in (p for p in pairs if p[2] is not None):
            try:
                BY_NAME[base].parse(str(value))
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}, got {value!r}") from None
            found[name] = str(value)
    return found


def parse_config(doc: Any, source: str = "config") -> Deployment:
    """Validate a parsed deployment file; raise DeploymentConfigError naming the bad key."""
    if doc is None:
        return Deployment(source=source)
    try:
        if not isinstance(doc, dict):
            raise ValueError("the config must be a YAML mapping")
        if unknown := sorted(set(doc) - FILE_KEYS):
            raise ValueError(f"unknown key(s) {unknown}; known: {', '.join(sorted(FILE_KEYS))}")
        feeds = doc.get("feeds", list(FEEDS))
        if not isinstance(feeds, list):
            raise ValueError("feeds must be a list of feed names")
        raw_vars = doc.get("dbt_vars") or {}
        if not isinstance(raw_vars, dict):
            raise ValueError("dbt_vars must be a mapping of dbt var -> value")
        top = {k: doc[k] for k in ("business_timezone", "currency") if k in doc}
        return Deployment(
            source=source,
            feeds=tuple(f for f in FEEDS if f in _feed_names("feeds", feeds)),  # contract order
            dbt_overrides={**check_dbt_vars(raw_vars), **check_dbt_vars(top, "")},
            settings=_file_settings(doc),
        )
    except ValueError as exc:
        raise DeploymentConfigError(source, str(exc)) from None


def read_deployment(config: str | Path) -> Deployment:
    """The deployment file `config` (WAREHOUSE_CONFIG), else warehouse.yaml if present, checked."""
    path = resolve_path(config or DEFAULT_CONFIG)
    if not config and not path.is_file():
        return Deployment(source="defaults")
    if not path.is_file():
        raise DeploymentConfigError(str(path), "the config file does not exist")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DeploymentConfigError(str(path), f"not valid YAML: {exc}") from None
    return parse_config(doc, str(path))


def _variables(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    read, prefixes = {*BY_NAME, ENV_FILE_VAR, "DBT_TARGET_PATH"}, tuple(f"{b}_" for b in PER_FEED)
    return tuple(sorted((k, v) for k, v in env.items() if k in read or k.startswith(prefixes)))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _read_env_file(path: Path) -> dict[str, str]:
    """The non-empty values of a `.env` file ({} when there is none); empty means the default."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for number, line in enumerate(lines, 1):
        if not (text := line.strip()) or text.startswith("#"):
            continue
        name, sep, value = (part.strip() for part in text.removeprefix("export ").partition("="))
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            fix = "write it as NAME=value"
            raise SettingError(f"{path} line {number}", text, "not NAME=value", fix)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if value:
            values[name] = value
    return values


def _layer(variables: Iterable[tuple[str, str]]) -> tuple[dict[str, str], Path]:
    """What the environment and `.env` set (the environment wins), and the `.env` file read."""
    set_vars = {k: v.strip() for k, v in variables if v.strip()}
    env_file = resolve_path(set_vars.get(ENV_FILE_VAR) or ".env")
    return {**_read_env_file(env_file), **set_vars}, env_file


def _per_feed(layer: Mapping[str, str], deployment: Deployment) -> dict[str, dict[str, Any]]:
    """Each PER_FEED setting of each feed; refuses a variable that names no feed."""
    feeds = {feed.upper() for feed in FEEDS}
    for name, text in layer.items():
        for base in (b for b in PER_FEED if name.startswith(f"{b}_")):
            if (suffix := name.removeprefix(f"{base}_")) not in feeds:
                fix = f"name one of {', '.join(sorted(feeds))} after {base}_"
                raise SettingError(name, text, f"no feed {suffix.lower()!r}", fix)
    result: dict[str, dict[str, Any]] = {base: {} for base in PER_FEED}
    for base, feed in ((base, feed) for base in PER_FEED for feed in FEEDS):
        names = (f"{base}_{feed.upper()}", base)  # the feed's first, in each source in turn
        found = ((n, s[n]) for s in (layer, deployment.settings) for n in names if n in s)
        name, text = next(found, (base, BY_NAME[base].default))
        result[base][feed] = BY_NAME[base].read(text, name)
    return result


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Every setting from `environ` (default os.environ), `.env`, the file, else its default."""
    variables = _variables(os.environ if environ is None else environ)
    layer, env_file = _layer(variables)
    config_text = layer.get("WAREHOUSE_CONFIG", "")
    # A missing WAREHOUSE_CONFIG file is refused as the variable, before it is read.
    config = BY_NAME["WAREHOUSE_CONFIG"].read(config_text) or DEFAULT_CONFIG
    try:
        deployment = read_deployment(config_text)
    except DeploymentConfigError as exc:
        fix = "edit the file (warehouse.example.yaml lists every key)"
        raise SettingError("WAREHOUSE_CONFIG", exc.source, exc.problem, fix) from None
    values = {
        s.name.lower(): s.read(layer.get(s.name) or deployment.settings.get(s.name) or s.default)
        for s in SETTINGS
    }
    return Settings(
        **values,
        deployment=deployment,
        per_feed=_per_feed(layer, deployment),
        environ=layer,
        inputs=(variables, tuple((p, _stamp(p)) for p in (env_file, config))),
    )


_current: list[Settings] = []  # get()'s object


def get() -> Settings:
    """This process's settings, resolved again only when a variable or file read changes."""
    if not (_current and _current[0].is_current()):
        _current[:] = [load()]
    return _current[0]


def raw(name: str) -> str:
    """The text of a setting from the environment, else `.env`, else its default; unchecked."""
    return _layer(_variables(os.environ))[0].get(name) or BY_NAME[name].default


def apply_env_defaults() -> None:
    """Export `.env` values and the paths' defaults, for `dg.EnvVar` resources and dbt."""
    paths = ("LANDING_DIR", "WAREHOUSE_PATH", "SERVING_DIR")  # for the dg.EnvVar resources
    values = {name: BY_NAME[name].default for name in paths}
    # Dagster's opt-in: a dt range run logs one planned event per asset, not one per partition.
    values |= {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true", **get().environ}
    for name, text in values.items():
        if not os.environ.get(name, "").strip():
            os.environ[name] = text


def process_env() -> dict[str, str]:
    """A copy of this process's environment, for a child process's `env=`."""
    return dict(os.environ)


def set_process_env(values: Mapping[str, str]) -> None:
    """Set variables for the child processes that inherit this process's environment."""
    os.environ.update(values)
