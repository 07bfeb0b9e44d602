"""Dagster asset checks that run the Great Expectations suites in `expectations/`.

Each suite reports `<schema>_<table>_critical` (blocking) and `_warning`; the suites of one
multi-asset op (the dbt op) share a step; `check_scope` may limit a raw suite to a run's days.
"""

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration import deployment, settings
from orchestration.quality import gx_validation as gxv
from orchestration.quality.gx_validation import SEVERITIES, RowScope, Severity, SuiteFile
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource


class GreatExpectationsResource(dg.ConfigurableResource):
    """Where the GX Data Docs go (empty: none)."""

    docs_dir: str = settings.DEFAULT_GX_DOCS_DIR

    @property
    def resolved_docs_dir(self) -> Path | None:
        return settings.resolve_path(self.docs_dir) if self.docs_dir else None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Import GX in a thread: it then overlaps the ingest steps, not the first check."""
        import sqlalchemy.orm  # noqa: F401  (first here, not in a race with Dagster's import)

        threading.Thread(target=lambda: import_module("great_expectations"), daemon=True).start()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Build the Data Docs of the run's validations once, at its end; never fails the run."""
        try:
            if (docs := self.resolved_docs_dir) and context.run:
                gxv.build_docs(docs, context.run.run_id)
        except Exception as exc:
            if context.log:
                context.log.warning(f"GX Data Docs not written: {exc}")


def check_name(suite: SuiteFile, severity: Severity) -> str:
    return f"{suite.name.replace('.', '_')}_{severity}"


def _key(suite: SuiteFile) -> dg.AssetKey:
    return dg.AssetKey(suite.name.split("."))


def _specs(suite: SuiteFile) -> list[dg.AssetCheckSpec]:
    effect = {"critical": "a failure blocks downstream", "warning": "a failure only warns"}
    return [
        dg.AssetCheckSpec(
            check_name(suite, severity),
            asset=_key(suite),
            description=f"GX suite `{suite.name}`, its {suite.count(severity)} {severity} "
            f"expectations: {effect[severity]}.",
            blocking=severity == "critical",
            metadata={"suite": suite.name, "suite_file": dg.MetadataValue.path(str(suite.path))},
        )
        for severity in SEVERITIES
        if suite.count(severity)
    ]


def check_scope(
    context: dg.AssetCheckExecutionContext, conn: duckdb.DuckDBPyConnection, suite: SuiteFile
) -> tuple[RowScope | None, str]:
    """The rows the row-level expectations judge (None: all) and why: the run's days only if an
    earlier run's check passed with these expectations and no other row was written since."""
    key, layer = _key(suite), context.job_def.asset_layer
    partitions = layer.get(key).partitions_def if layer.has(key) else None
    ranged = context.has_partition_key or context.has_partition_key_range
    if not ranged or not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return None, "the run covers no partition range of this asset"
    window = context.partition_time_window
    rows = RowScope(window.start.date(), (window.end - timedelta(microseconds=1)).date())
    name = check_name(suite, "critical" if suite.count("critical") else "warning")
    history = context.instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=10
    )
    done = [r for r in history if r.run_id != context.run.run_id and r.event]
    previous = next((r for r in done if r.status.value in ("SUCCEEDED", "FAILED")), None)
    if previous is None:
        return None, f"no earlier evaluation of {name}"
    run, evaluation = previous.run_id[:8], previous.event.asset_check_evaluation
    if not evaluation or (suite.count("critical") and not evaluation.passed):
        return None, f"the previous evaluation of {name} (run {run}) failed"
    if getattr(evaluation.metadata.get("suite_digest"), "value", None) != suite.digest:
        return None, f"the suite changed since the evaluation of {name} in run {run}"
    since = datetime.fromtimestamp(previous.event.timestamp, UTC).replace(tzinfo=None)
    newer = f"(_loaded_at > TIMESTAMP '{since}' or _loaded_at is null)"  # naive UTC
    counts = (
        f"count(*), count(*) filter ({rows.predicate}), "
        f"count(*) filter (not coalesce({rows.predicate}, false) and {newer})"
    )
    ((total, in_range, written),) = conn.table(suite.name).aggregate(counts).fetchall()
    if in_range == total:
        return None, f"{rows} holds every row of {suite.name}"
    if written:
        return None, f"{written:,} rows outside {rows} were written after the evaluation of {name}"
    return rows, f"the rows outside {rows} are unchanged since {name} passed in run {run}"


def docs_metadata(page: Path, index: Path) -> dict[str, dg.MetadataValue]:
    """Links to a Data Docs page and the index under GX_DOCS_URL (`file`: `file://` links)."""
    base = settings.get().gx_docs_url

    def link(path: Path) -> dg.MetadataValue:
        relative = f"{base}/{path.relative_to(index.parent).as_posix()}"
        return dg.MetadataValue.url(path.absolute().as_uri() if base == "file" else relative)

    path = dg.MetadataValue.path(str(page))
    return {"data_docs": link(page), "data_docs_index": link(index), "data_docs_path": path}


def _failure_line(o: dict[str, Any]) -> str:
    """`expect_column_values_to_be_in_set(status): 1 unexpected, values ["bogus"]`."""
    if o["error"]:
        return f"{o['label']}: raised {o['error']}"[:300]
    count = "" if o["unexpected_count"] is None else f"{o['unexpected_count']} unexpected, "
    shown = f"values {json.dumps(o['values'])}" if o["values"] else f"observed {o['observed']}"
    return f"{o['label']}: {count}{shown}"[:300]


def check_result(
    suite: SuiteFile, severity: Severity, result: gxv.SuiteResult, metadata: dict[str, Any]
) -> dg.AssetCheckResult:
    evaluated = [o for o in result.outcomes if o["severity"] == severity]
    failures = result.failed(severity)
    rows = f"{result.row_count:,} rows"
    if result.row_scope:
        rows = f"{result.row_scope}: {result.rows_in_scope:,} of {rows}"
        if not all(o["rows"] for o in evaluated):
            rows += "; table-level expectations on all rows"
    head = f"{len(failures)} of {len(evaluated)} {severity} expectations of suite `{suite.name}`"
    lines = [f"{head} {'failed' if failures else 'passed'} on {rows}"]
    lines += [_failure_line(o) for o in failures[:5]]
    lines += [f"and {len(failures) - 5} more"] if len(failures) > 5 else []
    return dg.AssetCheckResult(
        asset_key=_key(suite),
        check_name=check_name(suite, severity),
        passed=not failures,
        severity=dg.AssetCheckSeverity[{"critical": "ERROR", "warning": "WARN"}[severity]],
        description="; ".join(lines),
        metadata={
            "backend": result.backend,
            "row_count": result.row_count,
            "row_scope": result.row_scope or "all rows",
            "rows_in_scope": result.rows_in_scope,
            "duration_s": result.duration_s,
            "evaluated_expectations": len(evaluated),
            "failed_expectations": len(failures),
            "failed_expectation_names": [o["label"] for o in failures],
            "failures_json": dg.MetadataValue.json(failures),
            **metadata,
        },
    )


def _evaluate(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    names: set[str],
    backend: str,
    docs: Path | None,
) -> Iterator[dg.AssetCheckResult]:
    """Run a suite for its checks in `names` (a critical one fails if the suite cannot run)."""
    to_run, skipped = deployment.suite_for_deployment(suite, conn)
    try:
        rows, reason = check_scope(context, conn, to_run)
    except Exception as exc:  # every row is always a sound scope
        rows, reason = None, f"scope not decided: {exc}"
    options = dict(backend=backend, row_scope=rows, docs_dir=docs, run_name=context.run.run_id)
    try:
        result = gxv.validate_table(conn, to_run, **options)
    except Exception as exc:
        if check_name(suite, "critical") in names:
            yield dg.AssetCheckResult(
                asset_key=_key(suite),
                check_name=check_name(suite, "critical"),
                passed=False,
                description=f"Suite `{suite.name}` not evaluated: {exc}",
                metadata={"suite": suite.name, "error": str(exc)},
            )
        return
    metadata = {"suite": suite.name, "suite_digest": to_run.digest, "scope_reason": reason}
    metadata |= {"skipped": skipped} if skipped else {}
    if docs:
        metadata |= docs_metadata(gxv.page_path(docs, result.result_id), docs / "index.html")
    for severity in SEVERITIES:
        if check_name(suite, severity) in names:
            yield check_result(suite, severity, result, metadata)


def _suites_check(suites: list[SuiteFile], name: str, backend: str) -> dg.AssetChecksDefinition:
    """One op (one step) that runs each suite on its table over one DuckDB connection."""

    @dg.multi_asset_check(
        name=name,
        specs=[spec for suite in suites for spec in _specs(suite)],
        description="Runs the Great Expectations suites " + ", ".join(s.name for s in suites),
        can_subset=True,
        compute_kind="great_expectations",
        pool=WAREHOUSE_POOL,
    )
    def _gx_suites_check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        gx: GreatExpectationsResource,
    ) -> Iterator[dg.AssetCheckResult]:
        selected, docs = context.selected_asset_check_keys, gx.resolved_docs_dir
        with warehouse.connect() as conn:
            for suite in suites:
                if names := {s.name for s in _specs(suite) if s.key in selected}:
                    yield from _evaluate(context, conn, suite, names, backend, docs)

    return _gx_suites_check


def build_gx_checks(
    suite_dir: Path = settings.EXPECTATIONS_DIR,
    asset_keys: set[dg.AssetKey] | None = None,
    *,
    backend: str = "auto",
    shared_ops: Sequence[dg.AssetsDefinition] | None = None,
) -> list[dg.AssetChecksDefinition]:
    """The checks of the suites in `suite_dir` of `asset_keys` (None: all; a malformed one fails):
    one step `gx_<op>` per op of `shared_ops` (default: dbt's), else `gx_<schema>__<table>`."""
    suites = gxv.discover_suite_files(suite_dir)
    suites = [s for s in suites if asset_keys is None or _key(s) in asset_keys]
    if suites and shared_ops is None:
        from orchestration.assets.dbt import build_dbt_assets

        shared_ops = [build_dbt_assets()]
    op_of = {key: op.node_def.name for op in shared_ops or [] for key in op.keys}
    groups: dict[str, list[SuiteFile]] = {}
    for s in suites:
        groups.setdefault(op_of.get(_key(s), s.name.replace(".", "__")), []).append(s)
    return [_suites_check(g, f"gx_{op}", backend) for op, g in sorted(groups.items())]
