"""What the deployment file (read by `orchestration.settings`) means for the pipeline.

A feed not delivered loads as an empty raw table (`check_feed_files`); an optional contract
column without a value in raw is undelivered too (`undelivered_columns`, as `feed.column`, which
a mart's `requires_feeds` may name). A dbt model's materializations name the undelivered feeds
upstream of it (`annotate_dbt_events`), and its GX suite runs without the expectations that need
rows (`suite_for_deployment`): an empty table is the correct content there, not a failure.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration import settings
from orchestration.contract import FEEDS
from orchestration.ingest.landing import LandingFile, LandingFileError
from orchestration.settings import Deployment as Deployment
from orchestration.settings import DeploymentConfigError as DeploymentConfigError

if TYPE_CHECKING:
    import duckdb

# GX expectations that an empty table cannot meet; dropped for assets that lack an input feed.
EMPTY_INTOLERANT_EXPECTATIONS = (
    "expect_table_row_count_to_be_between",
    "expect_column_distinct_values_to_contain_set",
    "expect_column_mean_to_be_between",
)


def load_config(path: Path | None = None) -> Deployment:
    """The deployment file at `path`, else WAREHOUSE_CONFIG's, else `warehouse.yaml` if present."""
    return settings.read_deployment(path or settings.raw("WAREHOUSE_CONFIG"))


def check_feed_files(feed: str, files: list[LandingFile], landing_root: Path) -> bool:
    """Whether `feed` is delivered; raise if it is but `files` (all of the feed's) is empty."""
    deployment = settings.get().deployment
    if not deployment.delivers(feed):
        return False
    if not files:
        raise LandingFileError(
            landing_root / feed,
            f"feed {feed} is configured as delivered ({deployment.source}) but no file was found "
            f"under {landing_root / feed}/dt=YYYY-MM-DD/; deliver it or remove it from `feeds`",
        )
    return True


def undelivered_columns(conn: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """`feed.column` of each optional contract column that has no value in `raw.<feed>`: the
    feed is not delivered or not loaded yet, or its files lack the column (loaded as NULL)."""
    optional = [(f.name, c) for f in FEEDS.values() for c in f.optional]
    query = "SELECT table_name, column_name FROM information_schema.columns "
    query += "WHERE table_catalog = current_database() AND table_schema = 'raw'"
    present = set(conn.execute(query).fetchall())

    def has_values(feed: str, column: str) -> bool:
        probe = f"SELECT 1 FROM raw.{feed} WHERE {column} IS NOT NULL LIMIT 1"
        return (feed, column) in present and bool(conn.execute(probe).fetchall())

    return tuple(f"{f}.{c}" for f, c in optional if not has_values(f, c))


def dbt_vars(columns: Collection[str] = ()) -> dict[str, Any]:
    """The dbt vars of the settings, the undelivered optional `columns` added to
    `undelivered_feeds` (macro empty_if_feeds_missing empties the marts requiring one)."""
    found = settings.get().all_dbt_vars
    undelivered = [*found.get("undelivered_feeds", ()), *columns]
    return {**found, **({"undelivered_feeds": undelivered} if undelivered else {})}


@cache
def _manifest_lineage(path: Path, mtime: float) -> tuple[dict[str, tuple[str, ...]], ...]:
    manifest = json.loads(path.read_text())
    nodes = manifest["nodes"]
    raw = {uid: s["name"] for uid, s in manifest["sources"].items() if s["schema"] == "raw"}

    @cache
    def feeds_of(uid: str) -> frozenset[str]:
        """The feeds `uid` reads, directly or not."""
        if uid in raw:
            return frozenset({raw[uid]}) & set(FEEDS)
        parents = nodes.get(uid, {}).get("depends_on", {}).get("nodes", [])
        return frozenset().union(*map(feeds_of, parents))

    upstream, required = {}, {}
    for uid, node in nodes.items():
        relation = f"{node['schema']}.{node.get('alias') or node['name']}"
        if node["resource_type"] in ("model", "snapshot", "seed"):
            upstream[relation] = tuple(f for f in FEEDS if f in feeds_of(uid))
        if node["resource_type"] == "model":
            required[relation] = tuple(node["config"].get("meta", {}).get("requires_feeds", ()))
    return upstream, required


def lineage() -> tuple[dict[str, tuple[str, ...]], ...]:
    """Per `<schema>.<name>` of each dbt model: the raw feeds it reads, directly or not, and its
    config meta `requires_feeds` (dbt_project.yml); empty before `make prepare`."""
    manifest = settings.DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.is_file():
        return {}, {}
    return _manifest_lineage(manifest, manifest.stat().st_mtime)


def missing_feeds_of(
    table: str, deployment: Deployment | None = None, columns: Collection[str] = ()
) -> tuple[str, ...]:
    """Undelivered feeds that `table` (`raw.<feed>` or `<schema>.<model>`) is built from, and
    the undelivered optional `columns` (`feed.column`) it requires."""
    deployment = deployment or settings.get().deployment
    upstream, required = lineage()
    schema, _, name = table.partition(".")
    inputs = (name,) if schema == "raw" and name in FEEDS else upstream.get(table, ())
    needs = [c for c in required.get(table, ()) if c in columns and c not in FEEDS]
    return (*(f for f in inputs if not deployment.delivers(f)), *needs)


def missing_feeds_metadata(
    table: str, deployment: Deployment | None = None, columns: Collection[str] = ()
) -> dict[str, Any]:
    """Asset metadata for a dbt model: its input feeds and the undelivered ones among them, with
    the undelivered optional `columns` it requires (`feed.column`)."""
    deployment = deployment or settings.get().deployment
    upstream, required = lineage()
    missing = missing_feeds_of(table, deployment, columns)
    needs = required.get(table, ())
    emptied = [f for f in needs if f in columns or (f in FEEDS and not deployment.delivers(f))]
    return {
        "input_feeds": ", ".join(upstream.get(table, ())),
        "missing_feeds": ", ".join(missing),  # the mart is partial
        "complete_inputs": not missing,
        "emptied_for_missing_feeds": ", ".join(emptied),  # the post-hook emptied the mart
    }


def annotate_dbt_events(
    events: Iterable[Any], context: Any, columns: Collection[str] = ()
) -> Iterator[Any]:
    """Add `missing_feeds_metadata` to each dbt model's event of `dbt.cli(...).stream()`;
    `columns`: the undelivered optional columns."""
    import dagster as dg

    deployment = settings.get().deployment
    for event in events:
        key = None
        if isinstance(event, dg.AssetMaterialization):
            key = event.asset_key
        elif isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
        if key is not None and len(key.path) == 2:
            extra = missing_feeds_metadata(".".join(key.path), deployment, columns)
            event = event.with_metadata({**(event.metadata or {}), **extra})
        yield event


def suite_for_deployment(
    suite: Any, conn: duckdb.DuckDBPyConnection | None = None
) -> tuple[Any, str | None]:
    """The GX suite (a SuiteFile) to run, and why expectations were dropped (None: unchanged):
    without an input feed (or, given the warehouse `conn`, a required optional column) only
    EMPTY_INTOLERANT_EXPECTATIONS go; the others judge the rows."""
    columns = undelivered_columns(conn) if conn is not None else ()
    missing = missing_feeds_of(suite.name, columns=columns)
    kept = tuple(e for e in suite.expectations if e["type"] not in EMPTY_INTOLERANT_EXPECTATIONS)
    if not missing or len(kept) == len(suite.expectations):
        return suite, None
    reason = (
        f"{len(suite.expectations) - len(kept)} expectation(s) that need rows skipped: "
        f"feed(s) {', '.join(missing)} not delivered"
    )
    return dataclasses.replace(suite, expectations=kept), reason
