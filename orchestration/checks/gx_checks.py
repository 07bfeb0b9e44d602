"""Dagster asset checks that run the Great Expectations suites in `expectations/`.

Each suite reports two checks on its asset: `<schema>_<table>_critical` (blocking; fails with
ERROR when a critical expectation fails, and the assets downstream do not run) and
`<schema>_<table>_warning` (not blocking; fails with WARN). The suites of the assets one
multi-asset op writes (the dbt op: every mart) share one step; every other suite has its own.
In a run over a range of daily partitions a raw suite's row-level expectations judge only the
range's rows, when `check_scope` finds every other row known good. Each check links its page
in the GX Data Docs. (No `from __future__ import annotations`: Dagster reads the annotations.)
"""

import functools
import hashlib
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration import deployment, settings
from orchestration.quality import gx_docs
from orchestration.quality.gx_validation import (
    BACKENDS,
    SEVERITIES,
    ExpectationOutcome,
    RowScope,
    Severity,
    SuiteFile,
    SuiteResult,
    TableReadError,
    discover_suite_files,
    gx_context,
    quoted_table,
    validate_table,
)
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import EXPECTATIONS_DIR

LOADED_AT_COLUMN = "_loaded_at"  # when the loader wrote a row (naive UTC)
_log = logging.getLogger(__name__)


@functools.cache
def start_warm_up(docs_dir: Path | None, suite_dir: Path) -> threading.Thread:
    """Import GX and render the stale suite pages in a thread, once per process: that cost
    then overlaps the ingest steps instead of delaying the first check."""

    def warm_up() -> None:
        try:
            if docs_dir is None:
                gx_context(None)
            else:
                gx_docs.build_suite_pages(docs_dir, discover_suite_files(suite_dir))
        except Exception:  # the checks do the same work and report real errors
            _log.warning("GX warm-up failed", exc_info=True)

    thread = threading.Thread(target=warm_up, name="gx-warm-up", daemon=True)
    thread.start()
    return thread


class GreatExpectationsResource(dg.ConfigurableResource):
    """Where the GX Data Docs go (empty: none), and the warm-up when a run starts."""

    docs_dir: str = settings.DEFAULT_GX_DOCS_DIR
    suite_dir: str = str(EXPECTATIONS_DIR)
    warm_up: bool = True

    @property
    def resolved_docs_dir(self) -> Path | None:
        return settings.resolve_path(self.docs_dir) if self.docs_dir else None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.warm_up:
            import sqlalchemy.orm  # noqa: F401  (imported here, not racing Dagster's own use)

            start_warm_up(self.resolved_docs_dir, Path(self.suite_dir))


def check_name(suite: SuiteFile, severity: Severity) -> str:
    return f"{suite.schema}_{suite.table}_{severity}"


def _key(suite: SuiteFile) -> dg.AssetKey:
    return dg.AssetKey([suite.schema, suite.table])


def _specs(suite: SuiteFile) -> list[dg.AssetCheckSpec]:
    effect = {"critical": "a failure blocks downstream", "warning": "a failure only warns"}
    return [
        dg.AssetCheckSpec(
            name=check_name(suite, severity),
            asset=_key(suite),
            description=f"GX suite `{suite.name}`: its {suite.count(severity)} {severity} "
            f"expectations; {effect[severity]}.",
            blocking=severity == "critical",
            metadata={"suite": suite.name, "suite_file": dg.MetadataValue.path(str(suite.path))},
        )
        for severity in SEVERITIES
        if suite.count(severity)
    ]


# ------------------------------------------------------------------------------ row scope


@dataclass(frozen=True)
class CheckScope:
    """The rows the row-level expectations judge in this run (None: all), and why."""

    rows: RowScope | None
    reason: str


def suite_digest(suite: SuiteFile) -> str:
    """A hash of the expectations a check ran: a changed suite has not judged the old rows."""
    text = json.dumps(list(suite.expectations), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_row_scope(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> RowScope | None:
    """The days of the run's partition (range) of `key`, if it is partitioned by day."""
    layer = context.job_def.asset_layer
    if not (context.has_partition_key or context.has_partition_key_range) or not layer.has(key):
        return None
    partitions = layer.get(key).partitions_def
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return None
    keys = context.partition_key_range
    start = partitions.time_window_for_partition_key(keys.start).start
    end = partitions.time_window_for_partition_key(keys.end).end
    return RowScope(start.date(), (end - timedelta(microseconds=1)).date())


def check_scope(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    digest: str,
) -> CheckScope:
    """Judge only the rows of the run's partitions when every other row is known good.

    A run replaces the rows of its partitions and no other, so the other rows are those the
    previous check saw if: that check (critical; warning-only suites: warning) ran in an earlier
    run, passed, with the same expectations, and no row outside the range has a `_loaded_at`
    after it (or none). Otherwise every row is judged: a failed check's bad rows stay in raw.
    """
    rows = run_row_scope(context, _key(suite))
    if rows is None:
        return CheckScope(None, "the run covers no partition range of this asset")
    name = check_name(suite, "critical" if suite.count("critical") else "warning")
    history = context.instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(_key(suite), name), limit=10
    )
    done = ("SUCCEEDED", "FAILED")
    previous = next(
        (
            r
            for r in history
            if r.run_id != context.run.run_id and r.event and r.status.value in done
        ),
        None,
    )
    if previous is None:
        return CheckScope(None, f"no earlier evaluation of {name}")
    run = previous.run_id[:8]
    evaluation = previous.event.asset_check_evaluation
    if not evaluation or (suite.count("critical") and not evaluation.passed):
        return CheckScope(None, f"the previous evaluation of {name} (run {run}) failed")
    if getattr(evaluation.metadata.get("suite_digest"), "value", None) != digest:
        return CheckScope(None, f"the suite changed since the evaluation of {name} in run {run}")
    since = datetime.fromtimestamp(previous.event.timestamp, UTC).replace(tzinfo=None)
    table, outside = quoted_table(suite.name), f"not coalesce({rows.predicate}, false)"
    ((total, in_range, changed),) = conn.execute(
        f"select count(*), count(*) filter ({rows.predicate}), count(*) filter ({outside} and "
        f"({LOADED_AT_COLUMN} > ? or {LOADED_AT_COLUMN} is null)) from {table}",
        [since],
    ).fetchall()
    if in_range == total:
        return CheckScope(None, f"{rows} holds every row of {suite.name}")
    if changed:
        return CheckScope(
            None, f"{changed:,} rows outside {rows} were written after the evaluation of {name}"
        )
    reason = f"the rows outside {rows} are unchanged since {name} passed in run {run}"
    return CheckScope(rows, reason)


# ------------------------------------------------------------------------------ results


def docs_metadata(page: Path, index: Path) -> dict[str, dg.MetadataValue]:
    """Links to a validation's Data Docs page and the index, under GX_DOCS_URL (which `make ui`
    serves), or `file://` links with GX_DOCS_URL=file."""
    base = settings.value("GX_DOCS_URL")

    def link(path: Path) -> dg.MetadataValue:
        if base == "file":
            return dg.MetadataValue.url(path.absolute().as_uri())
        return dg.MetadataValue.url(f"{base}/{path.relative_to(index.parent).as_posix()}")

    path = dg.MetadataValue.path(str(page))
    return {"data_docs": link(page), "data_docs_index": link(index), "data_docs_path": path}


def _failure_line(o: ExpectationOutcome) -> str:
    """`expect_column_values_to_be_in_set(status): 1 unexpected, values ["bogus"]`."""
    if o.exception_message:
        return f"{o.label}: raised {o.exception_message}"[:300]
    values = o.unexpected_values or o.observed_value
    shown = f"{'values' if o.unexpected_values else 'observed'} {json.dumps(values, default=str)}"
    count = "" if o.unexpected_count is None else f"{o.unexpected_count} unexpected, "
    return f"{o.label}: {count}{shown}"[:300]


def _rows_text(result: SuiteResult, evaluated: Sequence[ExpectationOutcome]) -> str:
    """`5 rows`, or `dt 2025-12-31..2025-12-31: 11,950 of 4,421,047 rows; ...`."""
    if result.row_scope is None:
        return f"{result.row_count:,} rows"
    rows = f"{result.row_scope}: {result.rows_in_scope:,} of {result.row_count:,} rows"
    if all(o.row_scope for o in evaluated):
        return rows
    return f"{rows}; table-level expectations on all rows"


def check_result(
    suite: SuiteFile, severity: Severity, result: SuiteResult, metadata: dict[str, Any]
) -> dg.AssetCheckResult:
    """The result of one severity of a suite run; `metadata` is added to its own."""
    evaluated, failures = result.outcomes_for(severity), result.failed(severity)
    rows = _rows_text(result, evaluated)
    verdict = f"failed on {rows}" if failures else f"passed on {rows}"
    description = (
        f"{len(failures) or len(evaluated)} of {len(evaluated)} {severity} expectations of "
        f"suite `{suite.name}` {verdict}"
        + "".join(f"; {_failure_line(o)}" for o in failures[:5])
        + (f"; and {len(failures) - 5} more" if len(failures) > 5 else "")
    )
    records = [{**o.__dict__, "rows": o.row_scope or "all"} for o in failures]
    return dg.AssetCheckResult(
        asset_key=_key(suite),
        check_name=check_name(suite, severity),
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR
        if severity == "critical"
        else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "suite": suite.name,
            "table": result.table,
            "backend": result.backend,
            "row_count": result.row_count,
            "row_scope": result.row_scope or "all rows",
            "rows_in_scope": result.row_count
            if result.rows_in_scope is None
            else result.rows_in_scope,
            "evaluated_expectations": len(evaluated),
            "failed_expectations": len(failures),
            "duration_s": result.duration_s,
            **({"failures_json": dg.MetadataValue.json(records)} if failures else {}),
            **metadata,
        },
    )


def _not_evaluated(suite: SuiteFile, error: Exception) -> dg.AssetCheckResult:
    """The critical check's result when the suite could not run: nothing vouches for the data."""
    message = (
        str(error) if isinstance(error, TableReadError) else f"{type(error).__name__}: {error}"
    )
    return dg.AssetCheckResult(
        asset_key=_key(suite),
        check_name=check_name(suite, "critical"),
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"Suite `{suite.name}` not evaluated: {message}",
        metadata={"suite": suite.name, "error": message},
    )


# ------------------------------------------------------------------------------ the checks


def build_suites_checks(
    suites: Sequence[SuiteFile], *, name: str, description: str, backend: str = "auto"
) -> dg.AssetChecksDefinition:
    """One op (one step) that runs each suite on its table over one DuckDB connection, then
    builds their Data Docs pages, then reports each suite's checks."""

    @dg.multi_asset_check(
        name=name,
        specs=[spec for suite in suites for spec in _specs(suite)],
        description=description,
        can_subset=True,
        compute_kind="great_expectations",
        pool=WAREHOUSE_POOL,
    )
    def _gx_suites_check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        gx: GreatExpectationsResource,
    ) -> Iterator[dg.AssetCheckResult]:
        runs = []
        with warehouse.connect() as conn:
            for suite in suites:
                checks = [s for s in _specs(suite) if s.key in context.selected_asset_check_keys]
                if checks:
                    runs.append(
                        (suite, [s.name for s in checks], _run(context, conn, gx, suite, backend))
                    )
        docs = gx.resolved_docs_dir
        done = [r for _, _, (r, _) in runs if isinstance(r, SuiteResult)]
        pages = {}
        if docs is not None and done:
            try:
                pages = gx_docs.build_docs(docs, [r.result_id for r in done])
            except Exception as exc:  # docs are a convenience: never fail the gate over them
                context.log.warning(f"GX Data Docs not written: {exc}")
        for suite, names, (result, metadata) in runs:
            if not isinstance(result, SuiteResult):
                if check_name(suite, "critical") in names:
                    yield _not_evaluated(suite, result)
                continue
            if result.result_id in pages:
                metadata.update(docs_metadata(pages[result.result_id], docs / "index.html"))
            for severity in SEVERITIES:
                if check_name(suite, severity) in names:
                    yield check_result(suite, severity, result, metadata)

    return _gx_suites_check


def _run(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    gx: GreatExpectationsResource,
    suite: SuiteFile,
    backend: str,
) -> tuple[SuiteResult | Exception, dict[str, Any]]:
    """Run a suite (without the expectations an undelivered feed cannot meet) and return its
    result and check metadata, or the error that kept it from running."""
    suite_run, skipped = deployment.suite_for_deployment(suite)
    digest = suite_digest(suite_run)
    try:
        scope = check_scope(context, conn, suite, digest)
    except Exception as exc:  # the whole table is always a sound scope
        scope = CheckScope(None, f"scope not decided: {exc}")
    try:
        result = validate_table(
            conn,
            suite.name,
            suite_run,
            backend=backend,
            row_scope=scope.rows,
            docs_dir=gx.resolved_docs_dir,
            run_name=context.run.run_id,
        )
    except Exception as exc:
        context.log.error(f"suite {suite.name} not evaluated: {exc}")
        return exc, {}
    context.log.info(
        f"suite {suite.name}: {len(result.failed())} of {len(result.outcomes)} expectations "
        f"failed in {result.duration_s} s ({result.backend}; scope: {scope.reason})"
    )
    metadata = {"suite_digest": digest, "scope_reason": scope.reason}
    return result, {**metadata, **({"skipped": skipped} if skipped else {})}


def build_gx_checks(
    suite_dir: Path = EXPECTATIONS_DIR,
    asset_keys: set[dg.AssetKey] | None = None,
    *,
    backend: str = "auto",
    shared_ops: Sequence[dg.AssetsDefinition] | None = None,
) -> list[dg.AssetChecksDefinition]:
    """The checks of every suite in `suite_dir` whose asset is in `asset_keys` (None: all).

    `raw.orders.json` checks the asset `raw/orders`. Suite files are format-checked here, so a
    malformed suite fails the definitions load naming the file. The suites of the assets of one
    op of `shared_ops` (default: the dbt op) run in one step `gx_<op>`, all written before any
    of their checks can start; every other suite in its own step `gx_<schema>__<table>`.
    """
    if backend not in BACKENDS:
        raise KeyError(f"unknown GX backend {backend!r}; known: {list(BACKENDS)}")
    suites = [
        s for s in discover_suite_files(suite_dir) if asset_keys is None or _key(s) in asset_keys
    ]
    if shared_ops is None and suites:
        from orchestration.assets.dbt import build_dbt_assets

        shared_ops = [build_dbt_assets()]
    op_of = {key: op.node_def.name for op in shared_ops or () for key in op.keys}
    groups: dict[str, list[SuiteFile]] = {}
    for suite in suites:
        groups.setdefault(op_of.get(_key(suite), f"{suite.schema}__{suite.table}"), []).append(
            suite
        )
    return [
        build_suites_checks(
            members,
            name=f"gx_{group}",
            description="Runs the Great Expectations suites "
            + ", ".join(f"`{s.name}`" for s in members),
            backend=backend,
        )
        for group, members in sorted(groups.items())
    ]
