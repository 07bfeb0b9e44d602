"""The deployment config: which feeds this shop delivers, its time zone, currency and thresholds.

One YAML file (env WAREHOUSE_CONFIG; else `warehouse.yaml` at the repository root when it exists;
else the documented defaults, i.e. every feed of the contract and the dbt_project.yml vars).
`warehouse.example.yaml` lists every key with its default.

Precedence, lowest first: dbt_project.yml vars < this file < env (DBT_VARS for dbt vars,
QUARANTINE_MAX_SHARE[_<FEED>] for the quarantine gate), so a one-off run can still override.

What the rest of the code asks this module:
- `delivered_feeds()`: feeds the shop sends. A feed not delivered is loaded as an empty raw table of
  the contract's schema; a delivered feed without any landing file is an error (`check_feed_files`).
- `dbt_vars()`: the base of `dbt build --vars` (settings.dbt_vars() lays DBT_VARS over it).
- `missing_feeds_of(...)`: the undelivered feeds upstream of a dbt model (from the manifest's
  lineage), attached to each dbt materialization as metadata (`annotate_dbt_events`).
- `suite_for_deployment(...)`: a GX suite without the row-count expectations of an asset whose
  input feeds are not delivered: an empty table is the correct content there, not a failure.
- `freshness_max_lag_hours()`: for the freshness checks, which apply to delivered feeds only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from orchestration.contract import FEEDS
from orchestration.ingest.landing import LandingFile, LandingFileError

CONFIG_ENV = "WAREHOUSE_CONFIG"
DEFAULT_CONFIG_NAME = "warehouse.yaml"
DEFAULT_QUARANTINE_MAX_SHARE = 0.01
DEFAULT_FRESHNESS_MAX_LAG_HOURS = 36.0  # a daily export plus a working morning of slack

# GX expectations that an empty table cannot meet; dropped for assets that lack an input feed.
EMPTY_INTOLERANT_EXPECTATIONS = (
    "expect_table_row_count_to_be_between",
    "expect_column_distinct_values_to_contain_set",
    "expect_column_mean_to_be_between",
)

_KEYS = {
    "feeds",
    "business_timezone",
    "currency",
    "quarantine_max_share",
    "quarantine_max_share_per_feed",
    "freshness_max_lag_hours",
    "dbt_vars",
}


class DeploymentConfigError(ValueError):
    """The deployment config is malformed; the message names the file and the key."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


@dataclass(frozen=True)
class Deployment:
    """A validated deployment config. `dbt_overrides` holds only the vars the file sets."""

    source: str  # the file read, or "defaults"
    feeds: tuple[str, ...] = tuple(FEEDS)
    dbt_overrides: dict[str, Any] = field(default_factory=dict)
    quarantine_max_share: float = DEFAULT_QUARANTINE_MAX_SHARE
    quarantine_max_share_per_feed: dict[str, float] = field(default_factory=dict)
    freshness_max_lag_hours: float = DEFAULT_FRESHNESS_MAX_LAG_HOURS

    @property
    def undelivered(self) -> tuple[str, ...]:
        return tuple(f for f in FEEDS if f not in self.feeds)

    def delivers(self, feed: str) -> bool:
        return feed in self.feeds


# ------------------------------------------------------------------------------ loading


@cache
def dbt_project_vars() -> dict[str, Any]:
    """The vars and defaults declared in dbt_project/dbt_project.yml."""
    from orchestration.settings import DBT_PROJECT_DIR

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})


def config_path() -> Path | None:
    """Env WAREHOUSE_CONFIG (must exist), else `warehouse.yaml` at the repo root if present."""
    from orchestration.settings import REPO_ROOT, resolve_path

    raw = os.environ.get(CONFIG_ENV, "").strip()
    if raw:
        path = resolve_path(raw)
        if not path.is_file():
            raise DeploymentConfigError(str(path), f"{CONFIG_ENV} names a file that does not exist")
        return path
    default = REPO_ROOT / DEFAULT_CONFIG_NAME
    return default if default.is_file() else None


def _share(source: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise DeploymentConfigError(source, f"{key} must be a share between 0 and 1, got {value!r}")
    return float(value)


def _feed_names(source: str, key: str, names: Iterable[Any]) -> list[str]:
    names = list(names)
    bad = [n for n in names if not isinstance(n, str) or n not in FEEDS]
    if bad:
        raise DeploymentConfigError(
            source, f"{key}: unknown feed(s) {bad}; the contract's feeds are {', '.join(FEEDS)}"
        )
    return names


def _timezone(source: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise DeploymentConfigError(source, f"business_timezone must be a string, got {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeploymentConfigError(
            source, f"business_timezone {value!r} is not an IANA time zone (e.g. Europe/Berlin)"
        ) from None
    return value


def _var_type_ok(default: Any, value: Any) -> bool:
    """A var keeps the kind of its dbt_project.yml default: number, text, boolean, list."""
    if default is None or value is None:
        return True  # e.g. as_of_date: null by default, a date string when set
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)  # anomaly_z: 3 may well become 2.5
    return isinstance(value, type(default))


def check_dbt_vars(
    source: str, raw_vars: Mapping[Any, Any], label: str = "dbt_vars"
) -> dict[str, Any]:
    """Validate dbt var overrides (the file's `dbt_vars`, or env DBT_VARS): known names, the
    kind of their dbt_project.yml default, a real time zone and currency code."""
    known = dbt_project_vars()
    prefix = f"{label}: " if label else ""
    dotted = f"{label}." if label else ""
    overrides: dict[str, Any] = {}
    for name, value in raw_vars.items():
        if name == "undelivered_feeds":
            raise DeploymentConfigError(
                source, f"{dotted}undelivered_feeds is derived from `feeds`: list the feeds there"
            )
        if name not in known:
            raise DeploymentConfigError(
                source, f"{prefix}unknown var {name!r}; known: {', '.join(sorted(known))}"
            )
        if not _var_type_ok(known[name], value):
            raise DeploymentConfigError(
                source,
                f"{dotted}{name} must be of the kind of its default {known[name]!r}, got {value!r}",
            )
        overrides[name] = value
    if "business_timezone" in overrides:
        overrides["business_timezone"] = _timezone(source, overrides["business_timezone"])
    if "currency" in overrides:
        overrides["currency"] = _currency(source, overrides["currency"])
    return overrides


def _currency(source: str, currency: Any) -> str:
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise DeploymentConfigError(
            source, f"currency must be a 3-letter ISO 4217 code (EUR), got {currency!r}"
        )
    return currency.upper()


def _dbt_overrides(source: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    raw_vars = doc.get("dbt_vars") or {}
    if not isinstance(raw_vars, dict):
        raise DeploymentConfigError(source, "dbt_vars must be a mapping of dbt var -> value")
    overrides = check_dbt_vars(source, raw_vars)
    if "business_timezone" in doc:
        overrides["business_timezone"] = _timezone(source, doc["business_timezone"])
    if "currency" in doc:
        overrides["currency"] = _currency(source, doc["currency"])
    return overrides


def parse_config(doc: Any, source: str = "config") -> Deployment:
    """Validate a parsed YAML document; raise DeploymentConfigError naming the bad key."""
    if doc is None:
        return Deployment(source=source)
    if not isinstance(doc, dict):
        raise DeploymentConfigError(source, "the config must be a YAML mapping")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise DeploymentConfigError(
            source, f"unknown key(s) {unknown}; known: {', '.join(sorted(_KEYS))}"
        )
    feeds = doc.get("feeds", list(FEEDS))
    if not isinstance(feeds, list):
        raise DeploymentConfigError(source, "feeds must be a list of feed names")
    names = _feed_names(source, "feeds", feeds)
    per_feed = doc.get("quarantine_max_share_per_feed") or {}
    if not isinstance(per_feed, dict):
        raise DeploymentConfigError(source, "quarantine_max_share_per_feed must be a mapping")
    _feed_names(source, "quarantine_max_share_per_feed", per_feed)
    lag = doc.get("freshness_max_lag_hours", DEFAULT_FRESHNESS_MAX_LAG_HOURS)
    if isinstance(lag, bool) or not isinstance(lag, int | float) or lag <= 0:
        raise DeploymentConfigError(
            source, f"freshness_max_lag_hours must be a positive number, got {lag!r}"
        )
    return Deployment(
        source=source,
        # contract order, so everything that iterates the feeds agrees
        feeds=tuple(f for f in FEEDS if f in names),
        dbt_overrides=_dbt_overrides(source, doc),
        quarantine_max_share=_share(
            source,
            "quarantine_max_share",
            doc.get("quarantine_max_share", DEFAULT_QUARANTINE_MAX_SHARE),
        ),
        quarantine_max_share_per_feed={
            f: _share(source, f"quarantine_max_share_per_feed.{f}", v) for f, v in per_feed.items()
        },
        freshness_max_lag_hours=float(lag),
    )


def load_config(path: Path | None = None) -> Deployment:
    """Read and validate the config at `path` (default: `config_path()`; none → defaults)."""
    path = path if path is not None else config_path()
    if path is None:
        return Deployment(source="defaults")
    if not path.is_file():
        raise DeploymentConfigError(str(path), "no such config file")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DeploymentConfigError(str(path), f"not valid YAML: {exc}") from None
    return parse_config(doc, str(path))


def current() -> Deployment:
    """The deployment of this process, read on each call (the file is small; tests change env)."""
    return load_config()


# ------------------------------------------------------------------------------ what others ask


def delivered_feeds() -> tuple[str, ...]:
    """The feeds this shop delivers (contract order). Freshness checks apply to these only."""
    return current().feeds


def freshness_max_lag_hours() -> float:
    return current().freshness_max_lag_hours


def dbt_vars() -> dict[str, Any]:
    """The dbt vars the config sets (time zone, currency, dbt_vars); the base under DBT_VARS.

    Plus `undelivered_feeds` when feeds are left out: the marts' post-hook empties a mart that
    requires one (macro empty_if_feeds_missing).
    """
    deployment = current()
    extra = {"undelivered_feeds": list(deployment.undelivered)} if deployment.undelivered else {}
    return {**deployment.dbt_overrides, **extra}


def quarantine_max_share(feed: str) -> float:
    """The config's quarantine gate of `feed` (the env QUARANTINE_MAX_SHARE* vars win over it)."""
    deployment = current()
    return deployment.quarantine_max_share_per_feed.get(feed, deployment.quarantine_max_share)


def check_feed_files(feed: str, files: list[LandingFile], landing_root: Path) -> bool:
    """Whether `feed` is delivered; raise if it is but the landing holds no file of it.

    `files` are all the feed's files in the landing (not one partition's: a delivered feed may
    well skip a day).

    A feed that is not delivered loads as an empty raw table even if files turn up (the config
    is the authority: a new feed is switched on there, after `make validate-landing`).
    """
    if not current().delivers(feed):
        return False
    if not files:
        raise LandingFileError(
            landing_root / feed,
            f"feed {feed} is configured as delivered ({current().source}) but no file was found "
            f"under {landing_root / feed}/dt=YYYY-MM-DD/; deliver it or remove it from `feeds`",
        )
    return True


# ------------------------------------------------------------------------------ lineage


def _source_feeds(manifest: Mapping[str, Any]) -> dict[str, str]:
    """dbt source unique_id → feed name, for the sources on raw.<feed>."""
    return {
        uid: src["name"]
        for uid, src in manifest.get("sources", {}).items()
        if src.get("schema") == "raw" and src.get("name") in FEEDS
    }


def required_feeds(manifest: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """`<schema>.<name>` of each model → its config meta `requires_feeds` (dbt_project.yml)."""
    result: dict[str, tuple[str, ...]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model":
            meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
            name = f"{node['schema']}.{node.get('alias') or node['name']}"
            result[name] = tuple(meta.get("requires_feeds") or ())
    return result


def upstream_feeds(manifest: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """`<schema>.<name>` of each dbt model → the raw feeds it reads, directly or not."""
    feeds_of_source = _source_feeds(manifest)
    nodes = manifest.get("nodes", {})
    memo: dict[str, frozenset[str]] = {}

    def feeds_of(uid: str) -> frozenset[str]:
        if uid in feeds_of_source:
            return frozenset({feeds_of_source[uid]})
        if uid not in memo:
            memo[uid] = frozenset()  # cycle guard; dbt graphs are acyclic anyway
            parents = nodes.get(uid, {}).get("depends_on", {}).get("nodes", [])
            memo[uid] = frozenset().union(*(feeds_of(p) for p in parents))
        return memo[uid]

    result: dict[str, tuple[str, ...]] = {}
    for uid, node in nodes.items():
        if node.get("resource_type") not in ("model", "snapshot", "seed"):
            continue
        name = f"{node['schema']}.{node.get('alias') or node['name']}"
        result[name] = tuple(f for f in FEEDS if f in feeds_of(uid))
    return result


@cache
def _manifest_lineage(
    manifest_path: str, mtime: float
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    manifest = json.loads(Path(manifest_path).read_text())
    return upstream_feeds(manifest), required_feeds(manifest)


def _lineage_and_requirements() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    from orchestration.settings import DBT_PROJECT_DIR

    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.is_file():
        return {}, {}
    return _manifest_lineage(str(manifest), manifest.stat().st_mtime)


def lineage() -> dict[str, tuple[str, ...]]:
    """`upstream_feeds` of the parsed project (dbt_project/target/manifest.json), or {}."""
    return _lineage_and_requirements()[0]


def requirements() -> dict[str, tuple[str, ...]]:
    """`required_feeds` of the parsed project, or {}."""
    return _lineage_and_requirements()[1]


def missing_feeds_of(table: str, deployment: Deployment | None = None) -> tuple[str, ...]:
    """Undelivered feeds that `table` (`raw.<feed>` or `<schema>.<model>`) is built from."""
    deployment = deployment or current()
    schema, _, name = table.partition(".")
    inputs = (name,) if schema == "raw" and name in FEEDS else lineage().get(table, ())
    return tuple(f for f in inputs if not deployment.delivers(f))


def missing_feeds_metadata(table: str, deployment: Deployment | None = None) -> dict[str, Any]:
    """Asset metadata for a dbt model: its input feeds and the undelivered ones among them."""
    deployment = deployment or current()
    missing = missing_feeds_of(table, deployment)
    emptied = [f for f in requirements().get(table, ()) if not deployment.delivers(f)]
    return {
        "input_feeds": ", ".join(lineage().get(table, ())),
        # undelivered feeds upstream: the mart is partial (or empty, see below)
        "missing_feeds": ", ".join(missing),
        "complete_inputs": not missing,
        # a feed the mart requires is missing: the post-hook emptied it
        "emptied_for_missing_feeds": ", ".join(emptied),
    }


def annotate_dbt_events(events: Iterable[Any], context: Any) -> Iterator[Any]:
    """Add `missing_feeds_metadata` to each dbt model's Output / AssetMaterialization.

    Wraps `dbt.cli(...).stream()` in the dbt op (`context` is its AssetExecutionContext); other
    events (check results, observations) pass unchanged.
    """
    import dagster as dg

    deployment = current()
    for event in events:
        key = None
        if isinstance(event, dg.AssetMaterialization):
            key = event.asset_key
        elif isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
        if key is not None and len(key.path) == 2:
            extra = missing_feeds_metadata(".".join(key.path), deployment)
            event = event.with_metadata({**(event.metadata or {}), **extra})
        yield event


# ------------------------------------------------------------------------------ GX suites


def suite_for_deployment(suite: Any) -> tuple[Any, str | None]:
    """The suite to run on its table, and why expectations were dropped (None: unchanged).

    `suite` is a gx_validation.SuiteFile. When its asset is built from an undelivered feed, an
    empty table is correct, so the expectations that demand rows are dropped; every other
    expectation still runs (and passes on no rows, or judges the rows a partial mart has).
    Dropped: EMPTY_INTOLERANT_EXPECTATIONS (a row-count minimum, a set of values that must
    appear, a mean within a range).
    """
    missing = missing_feeds_of(suite.name)
    if not missing:
        return suite, None
    kept = tuple(e for e in suite.expectations if e["type"] not in EMPTY_INTOLERANT_EXPECTATIONS)
    if len(kept) == len(suite.expectations):
        return suite, None
    reason = (
        f"{len(suite.expectations) - len(kept)} expectation(s) that need rows skipped: "
        f"feed(s) {', '.join(missing)} not delivered"
    )
    return dataclasses.replace(suite, expectations=kept), reason
