"""Dagster asset checks that run the Great Expectations suites in `expectations/`.

Design: two checks per suite; one step per producing op
------------------------------------------------------
Every expectation has `meta.severity` `critical` or `warning`. A `@multi_asset_check` op runs
each of its suites once on its table and reports two checks on the suite's asset:

- `<schema>_<table>_critical` — `blocking=True`; fails with `AssetCheckSeverity.ERROR` when a
  critical expectation fails, and then the assets downstream do not run.
- `<schema>_<table>_warning` — `blocking=False`; fails with `AssetCheckSeverity.WARN` when a
  warning expectation fails, and downstream still runs.

(A suite without expectations of one severity gets only the other check.)

Which suites share an op (a Dagster step, ~0.1 s of overhead each): those of the assets that ONE
multi-asset op materializes — the dbt op, i.e. every mart — run in one step `gx_dbt_models`, on
one DuckDB connection. All of them are written before any of their checks can start, and the
only downstream of a mart is the publish step, which a failed critical check of any mart stops
either way; so one step gates exactly what one step per suite did. Each ingest asset is its own
op, so each raw suite keeps its own step `gx_raw__<feed>` and opens its feed's gate early. In the
shared step a suite whose table cannot be read, or on which GX raises, fails its own critical
check and the other suites are still checked and reported.

Why not one blocking check that fails with WARN for warning-only failures? Within a run that
would not block: Dagster raises only for `not passed and severity == ERROR and blocking`
(`dagster/_core/execution/plan/execute_step.py`; the `AssetCheckSpec.blocking` docstring and
the `@asset_check` API docs say "If the check fails with severity AssetCheckSeverity.ERROR, then
the downstream assets won't execute"). But declarative automation's
`AutomationCondition.all_deps_blocking_checks_passed()` counts any failed result of a blocking
check as not passed, whatever its severity (`CheckResultCondition` asks for status `SUCCEEDED`),
so a WARN failure would still hold back automated downstream materializations. Nor do we report
`passed=True` with a warning in the metadata: the UI would show green for bad data. Two checks
keep both the run gate and the UI honest: red/ERROR means "stopped", yellow/WARN means "look".

Partition-range runs
--------------------
The ingest assets are daily partitioned; a run covers a range of dt partitions. In such a run a
raw suite judges its row-level expectations only on the rows whose `_partition_dt` is in the
range, and its table-level ones (row count, distinct values...) on every row, computed in DuckDB
(`gx_validation.RowScope`). `check_scope` allows that only when the rows outside the range are
known good: the previous evaluation of the suite's critical check (an earlier run) passed, with
the same expectations (`suite_digest` in its metadata), and no row outside the range has been
written since (`_loaded_at`). Otherwise every row is judged, as in a run without a range. The
description and metadata (`row_scope`, `rows_in_scope`, `scope_reason`) say which.

The connection
--------------
The checks run in the same run process as the assets that write the DuckDB file (the
definitions use the in-process executor), and the op is in the warehouse pool like every
writer. A read-only connection would be refused if any connection with another configuration
is open on the file in this process, so the default is the same read-write connection the
writers use; connections in one process are opened one after another, which DuckDB allows.

Data Docs and warm-up
---------------------
The `gx` resource (`GreatExpectationsResource`) says where the GX Data Docs go (GX_DOCS_DIR).
Each check links its suite's page (and, when an expectation failed, the validation result page)
in its metadata as `data_docs`; see `quality/gx_docs` for what is rendered when. When a run
initializes the resource it starts a background warm-up (GX import, context, stale suite pages),
which overlaps the ingest and dbt steps.

(No `from __future__ import annotations` here: Dagster inspects the check function's `context`
annotation at definition time and rejects it as a string.)
"""

import hashlib
import json
import time
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
    quoted_table,
    start_warm_up,
    validate_table,
)
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import EXPECTATIONS_DIR


class GreatExpectationsResource(dg.ConfigurableResource):
    """Where the GX Data Docs go (env GX_DOCS_DIR; empty: none), and the run-start warm-up."""

    docs_dir: str = settings.DEFAULT_GX_DOCS_DIR
    suite_dir: str = str(EXPECTATIONS_DIR)  # whose suite pages the warm-up renders
    warm_up: bool = True

    @property
    def resolved_docs_dir(self) -> Path | None:
        if not self.docs_dir:
            return None
        return settings.resolve_path(self.docs_dir)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.warm_up:
            # The warm-up thread imports GX, hence sqlalchemy.orm; importing it here first keeps
            # that import from racing Dagster's own sqlalchemy use in the run's thread.
            import sqlalchemy.orm  # noqa: F401

            start_warm_up(discover_suite_files(self.suite_dir), self.resolved_docs_dir)


_DAGSTER_SEVERITY: dict[Severity, dg.AssetCheckSeverity] = {
    "critical": dg.AssetCheckSeverity.ERROR,
    "warning": dg.AssetCheckSeverity.WARN,
}
_MAX_DESCRIPTION_FAILURES = 5  # the description lists this many; the metadata has them all
_MAX_CELL_CHARS = 300


def check_name(suite: SuiteFile, severity: Severity) -> str:
    """`raw.orders` + `critical` -> `raw_orders_critical`."""
    return f"{suite.schema}_{suite.table}_{severity}"


def _spec(suite: SuiteFile, key: dg.AssetKey, severity: Severity) -> dg.AssetCheckSpec:
    count = suite.count(severity)
    effect = (
        "a failure blocks the downstream assets"
        if severity == "critical"
        else "a failure is reported as a warning; downstream assets still run"
    )
    return dg.AssetCheckSpec(
        name=check_name(suite, severity),
        asset=key,
        description=(
            f"Great Expectations suite `{suite.name}` ({suite.path.name}): its {count} "
            f"{severity} expectations; {effect}."
        ),
        blocking=severity == "critical",
        metadata={
            "suite": suite.name,
            "suite_file": dg.MetadataValue.path(str(suite.path)),
            "severity": severity,
            "expectations": count,
        },
    )


# --------------------------------------------------------------------------------------------
# Which rows a run's check judges
# --------------------------------------------------------------------------------------------

# When the loader wrote a row (orchestration/ingest/loader.py): an unchanged re-delivered row
# keeps its first value, a new or changed row gets the load's time.
LOADED_AT_COLUMN = "_loaded_at"
COMPLETED = ("SUCCEEDED", "FAILED")  # statuses of an evaluation that ran to its end


@dataclass(frozen=True)
class CheckScope:
    """The rows a suite's row-level expectations judge in this run, and why."""

    rows: RowScope | None  # None: every expectation judges every row
    reason: str


def suite_digest(suite: SuiteFile) -> str:
    """A hash of the expectations a check ran: a changed suite has not judged the old rows."""
    text = json.dumps(list(suite.expectations), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def run_row_scope(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> RowScope | None:
    """The dates of the partitions of `key` this run covers, from its partition (range) tags:
    None when the run has none or the asset is not partitioned by time (the marts)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    layer = context.job_def.asset_layer
    if not layer.has(key):
        return None
    partitions_def = layer.get(key).partitions_def
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return None
    keys = context.partition_key_range
    start = partitions_def.time_window_for_partition_key(keys.start).start
    end = partitions_def.time_window_for_partition_key(keys.end).end  # exclusive
    return RowScope(start.date(), (end - timedelta(microseconds=1)).date())


def _previous_evaluation(
    context: dg.AssetCheckExecutionContext, check_key: dg.AssetCheckKey
) -> Any:
    """The latest completed evaluation of `check_key` in an earlier run (an execution record)."""
    records = context.instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=10
    )
    return next(
        (
            r
            for r in records
            if r.run_id != context.run.run_id and r.event and r.status.value in COMPLETED
        ),
        None,
    )


def _table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    rows = conn.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows}


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    row = conn.execute(sql, list(params)).fetchone()
    return int(row[0]) if row else 0


def check_scope(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    suite_run: SuiteFile,
) -> CheckScope:
    """Judge only the rows of the run's partitions when every other row is known to be good.

    A run of the ingest assets replaces the rows of the partitions in its range and touches no
    other (orchestration/ingest/loader.py), so the rows outside the range are those the previous
    check saw, IF nothing else wrote them since. Required: the run covers a range of the
    asset's time partitions; the table has the partition and `_loaded_at` columns; the suite's
    previous evaluation (critical check; warning-only suites: warning check) ran in an earlier
    run, passed (a critical check), with the same expectations; and no row outside the range
    was written after it. Otherwise, and when the range covers every row, every expectation
    judges every row, as without a range: a failed check's bad rows stay in raw and in the dbt
    batch until fixed, so the next run must judge them again.
    """
    key = _suite_key(suite)
    rows = run_row_scope(context, key)
    if rows is None:
        return CheckScope(None, "the run covers no partition range of this asset")
    columns = _table_columns(conn, suite.name)
    missing = [c for c in (rows.column, LOADED_AT_COLUMN) if c not in columns]
    if missing:
        return CheckScope(None, f"{suite.name} has no column {', '.join(missing)}")
    severity: Severity = "critical" if suite.count("critical") else "warning"
    name = check_name(suite, severity)
    previous = _previous_evaluation(context, dg.AssetCheckKey(key, name))
    if previous is None or previous.event is None:
        return CheckScope(None, f"no earlier evaluation of {name}")
    run = previous.run_id[:8]
    if severity == "critical" and previous.status.value != "SUCCEEDED":
        return CheckScope(None, f"the previous evaluation of {name} (run {run}) failed")
    evaluation = previous.event.asset_check_evaluation
    digest = evaluation.metadata.get("suite_digest") if evaluation else None
    if digest is None or digest.value != suite_digest(suite_run):
        return CheckScope(None, f"the suite changed since the evaluation of {name} in run {run}")
    # _loaded_at is naive UTC (the loader's clock); the event time is POSIX seconds. No load
    # commits while a check step holds its connection (the warehouse pool, DuckDB's one-writer
    # lock), so a row stamped before the evaluation was in the table that check read. A row
    # without one was not written by the loader: nothing says a check has seen it. Three
    # queries, not one pass with FILTERs: each WHERE prunes row groups by their min/max (raw is
    # appended in load order, a load in dt order), ~1 ms instead of ~30 ms on 4.4 M events.
    since = datetime.fromtimestamp(previous.event.timestamp, UTC).replace(tzinfo=None)
    table, loaded_at = quoted_table(suite.name), f'"{LOADED_AT_COLUMN}"'
    total = _scalar(conn, f"select count(*) from {table}")
    in_range = _scalar(conn, f"select count(*) from {table} where {rows.predicate}")
    changed = _scalar(
        conn,
        f"select count(*) from {table} where ({loaded_at} > ? or {loaded_at} is null) "
        f"and not coalesce({rows.predicate}, false)",
        [since],
    )
    if in_range == total:
        return CheckScope(None, f"{rows} holds every row of {suite.name}")
    if changed:
        return CheckScope(
            None,
            f"{changed:,} rows outside {rows} were written after the evaluation of {name} in "
            f"run {run}",
        )
    return CheckScope(
        rows,
        f"the rows outside {rows} are unchanged since {name} passed in run {run}",
    )


def _safe_check_scope(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    suite_run: SuiteFile,
) -> CheckScope:
    """`check_scope`, falling back to every row when it cannot decide: the whole table is
    always a sound scope (an unreadable table is then reported by the validation itself)."""
    try:
        return check_scope(context, conn, suite, suite_run)
    except duckdb.Error as exc:
        return CheckScope(None, f"scope not decided: {exc}")
    except Exception as exc:  # e.g. an instance whose storage keeps no check history
        context.log.warning(f"suite {suite.name}: row scope not decided, every row judged: {exc}")
        return CheckScope(None, f"scope not decided: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------
# Rendering a result
# --------------------------------------------------------------------------------------------


def _values_text(outcome: ExpectationOutcome) -> str:
    if outcome.exception_message:
        return f"error: {outcome.exception_message}"
    if outcome.unexpected_values:
        return "values " + json.dumps(outcome.unexpected_values, ensure_ascii=False, default=str)
    if outcome.observed_value is not None:
        return f"observed {json.dumps(outcome.observed_value, default=str)}"
    return ""


def _failure_line(outcome: ExpectationOutcome) -> str:
    """`expect_column_values_to_be_in_set(status): 1 unexpected, values ["bogus"]`."""
    if outcome.exception_message:
        return f"{outcome.label}: raised {outcome.exception_message}"
    details = []
    if outcome.unexpected_count is not None:
        details.append(f"{outcome.unexpected_count} unexpected")
    if outcome.unexpected_values or outcome.observed_value is not None:
        details.append(_values_text(outcome))
    return f"{outcome.label}: {', '.join(details)}" if details else outcome.label


def _md_cell(value: object) -> str:
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= _MAX_CELL_CHARS else text[:_MAX_CELL_CHARS] + "…"


def failures_markdown(failures: Sequence[ExpectationOutcome]) -> str:
    """A markdown table of failed expectations with their bad values (and, when the run judged
    only some rows, on which rows each expectation was judged)."""
    scoped = any(o.row_scope is not None for o in failures)
    header = ["expectation", "column", "kwargs", "unexpected", "bad values / observed / error"]
    if scoped:
        header.append("rows")
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for o in failures:
        kwargs = {k: v for k, v in o.kwargs.items() if k not in ("column", "column_list")}
        cells: list[object] = [
            o.type,
            o.column or "",
            json.dumps(kwargs, default=str),
            "" if o.unexpected_count is None else o.unexpected_count,
            _values_text(o),
        ]
        if scoped:
            cells.append(o.row_scope or "all")
        rows.append("| " + " | ".join(_md_cell(cell) for cell in cells) + " |")
    return "\n".join(rows)


def _failure_record(o: ExpectationOutcome) -> dict[str, object]:
    return {
        "expectation": o.type,
        "column": o.column,
        "kwargs": o.kwargs,
        "unexpected_count": o.unexpected_count,
        "unexpected_percent": o.unexpected_percent,
        "unexpected_values": o.unexpected_values,
        "observed_value": o.observed_value,
        "exception": o.exception_message,
        "rows": o.row_scope or "all",
    }


def docs_metadata(pages: gx_docs.DocsPages | None) -> dict[str, dg.MetadataValue]:
    """Links to the GX Data Docs of a check run: the suite page, the index, the failed run.

    Under GX_DOCS_URL, which `make ui` serves (a browser does not follow a `file://` link from
    the UI's http page); with GX_DOCS_URL=file, `file://` URLs. `data_docs_path` keeps the
    suite page's plain path (e.g. for a shell)."""
    if pages is None:
        return {}
    base = settings.value("GX_DOCS_URL")
    site = pages.index.parent

    def link(page: Path) -> dg.MetadataValue:
        if base == "file":
            return dg.MetadataValue.url(page.absolute().as_uri())
        return dg.MetadataValue.url(f"{base}/{page.relative_to(site).as_posix()}")

    metadata: dict[str, dg.MetadataValue] = {
        "data_docs": link(pages.suite_page),
        "data_docs_index": link(pages.index),
        "data_docs_path": dg.MetadataValue.path(str(pages.suite_page)),
    }
    if pages.validation_page is not None:
        metadata["data_docs_validation"] = link(pages.validation_page)
    return metadata


def _rows_text(result: SuiteResult, evaluated: Sequence[ExpectationOutcome]) -> str:
    """Which rows `evaluated` judged: `5 rows` (every row), or with a row scope
    `dt 2025-12-31..2025-12-31: 119,756 of 44,169,738 rows; table-level expectations on all
    rows`."""
    if result.row_scope is None:
        return f"{result.row_count} rows"
    scoped = sum(1 for o in evaluated if o.row_scope is not None)
    if not scoped:
        return f"all {result.row_count:,} rows (table-level expectations)"
    rows = f"{result.row_scope}: {result.rows_in_scope:,} of {result.row_count:,} rows"
    return rows if scoped == len(evaluated) else f"{rows}; table-level expectations on all rows"


def check_result(
    suite: SuiteFile,
    key: dg.AssetKey,
    severity: Severity,
    result: SuiteResult,
    docs: gx_docs.DocsPages | None = None,
    *,
    scope: CheckScope | None = None,
    digest: str | None = None,
) -> dg.AssetCheckResult:
    """The `AssetCheckResult` of one severity of a suite run.

    `scope` says why the rows were chosen; `digest` (`suite_digest` of the suite run) lets the
    next run tell whether this evaluation judged the same expectations."""
    evaluated = result.outcomes_for(severity)
    failures = result.failed(severity)
    rows = _rows_text(result, evaluated)
    if failures:
        shown = "; ".join(_failure_line(o) for o in failures[:_MAX_DESCRIPTION_FAILURES])
        more = len(failures) - _MAX_DESCRIPTION_FAILURES
        description = (
            f"{len(failures)} of {len(evaluated)} {severity} expectations of suite "
            f"`{suite.name}` failed on {rows}: {shown}"
            + (f"; and {more} more (see metadata)" if more > 0 else "")
        )
    else:
        description = (
            f"All {len(evaluated)} {severity} expectations of suite `{suite.name}` passed "
            f"on {rows}."
        )
    metadata: dict[str, dg.RawMetadataValue] = {
        "suite": suite.name,
        "suite_file": dg.MetadataValue.path(str(suite.path)),
        "table": result.table,
        "backend": result.backend,
        "row_count": result.row_count,
        # the rows the row-level expectations judged; the table-level ones judge every row
        "row_scope": result.row_scope or "all rows",
        "rows_in_scope": (
            result.rows_in_scope if result.rows_in_scope is not None else result.row_count
        ),
        "evaluated_expectations": len(evaluated),
        "failed_expectations": len(failures),
        "failed_expectation_names": dg.MetadataValue.json([o.label for o in failures]),
        "duration_s": result.duration_s,
        **docs_metadata(docs),
    }
    if result.row_scope is not None:
        metadata["table_level_expectations"] = dg.MetadataValue.json(
            [o.label for o in evaluated if o.row_scope is None]
        )
    if scope is not None:
        metadata["scope_reason"] = scope.reason
    if digest is not None:
        metadata["suite_digest"] = digest
    if failures:
        metadata["failures"] = dg.MetadataValue.md(failures_markdown(failures))
        metadata["failures_json"] = dg.MetadataValue.json([_failure_record(o) for o in failures])
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name(suite, severity),
        passed=not failures,
        severity=_DAGSTER_SEVERITY[severity],
        description=description,
        metadata=metadata,
    )


def _unreadable_result(
    suite: SuiteFile, key: dg.AssetKey, error: TableReadError
) -> dg.AssetCheckResult:
    """The critical check's result when the table cannot be read: nothing vouches for it."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name(suite, "critical"),
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"Suite `{suite.name}` not evaluated: {error}",
        metadata={"suite": suite.name, "table": suite.name, "error": str(error)},
    )


# --------------------------------------------------------------------------------------------
# Building the checks
# --------------------------------------------------------------------------------------------


def _suite_key(suite: SuiteFile) -> dg.AssetKey:
    return dg.AssetKey(list(suite.asset_key_path))


def _suite_severities(suite: SuiteFile) -> list[Severity]:
    return [s for s in SEVERITIES if suite.count(s)]


def _error_result(suite: SuiteFile, key: dg.AssetKey, error: Exception) -> dg.AssetCheckResult:
    """The critical check's result when GX raised on the suite: it has not vouched for the data."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check_name(suite, "critical"),
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"Suite `{suite.name}` not evaluated: {type(error).__name__}: {error}",
        metadata={"suite": suite.name, "table": suite.name, "error": f"{error!r}"},
    )


def _run_suite_checks(
    context: dg.AssetCheckExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    gx: GreatExpectationsResource,
    suite: SuiteFile,
    *,
    backend: str,
    isolate_errors: bool,
) -> Iterator[dg.AssetCheckResult]:
    """Validate one suite on `conn` and yield its selected checks' results."""
    key = _suite_key(suite)
    selected = [
        s
        for s in _suite_severities(suite)
        if dg.AssetCheckKey(key, check_name(suite, s)) in context.selected_asset_check_keys
    ]
    if not selected:
        return
    # an asset built from an undelivered feed may be empty: its row-count minimum is dropped
    suite_run, skipped = deployment.suite_for_deployment(suite)
    scope = _safe_check_scope(context, conn, suite, suite_run)
    try:
        result = validate_table(conn, suite.name, suite_run, backend=backend, row_scope=scope.rows)
    except TableReadError as exc:
        context.log.error(str(exc))
        if "critical" in selected:
            yield _unreadable_result(suite, key, exc)
        # The warning check yields nothing: it was not evaluated, which is what the UI shows.
        return
    except Exception as exc:
        if not isolate_errors:
            raise
        # In a step shared by several suites one suite's error must not hide the others'
        # results; its critical check fails (blocking), as the step failure would have.
        context.log.exception(f"suite {suite.name} raised")
        if "critical" in selected:
            yield _error_result(suite, key, exc)
        return
    docs, docs_s = None, 0.0
    if gx.resolved_docs_dir is not None:
        started = time.perf_counter()
        try:
            docs = gx_docs.build_docs(gx.resolved_docs_dir, result.gx_suite, result.gx_result)
        except Exception as exc:  # docs are a convenience; never fail the gate over them
            context.log.warning(f"GX Data Docs for suite {suite.name} not written: {exc}")
        docs_s = time.perf_counter() - started
    context.log.info(
        f"suite {suite.name}: {len(result.failed())} of {len(result.outcomes)} expectations "
        f"failed on {_rows_text(result, list(result.outcomes))} in {result.duration_s} s "
        f"(docs {docs_s:.2f} s; scope: {scope.reason})"
    )
    digest = suite_digest(suite_run)
    for severity in selected:
        evaluation = check_result(suite, key, severity, result, docs, scope=scope, digest=digest)
        yield (
            evaluation.with_metadata({**evaluation.metadata, "skipped": skipped})
            if skipped
            else evaluation
        )


def build_suites_checks(
    suites: Sequence[SuiteFile],
    *,
    name: str,
    description: str,
    backend: str = "pandas",
    read_only: bool = False,
) -> dg.AssetChecksDefinition:
    """One op (one Dagster step) that runs every suite in `suites` on its table, one after the
    other on one DuckDB connection, and reports each suite's critical and warning checks."""
    specs = [_spec(s, _suite_key(s), sev) for s in suites for sev in _suite_severities(s)]
    isolate_errors = len(suites) > 1

    @dg.multi_asset_check(
        name=name,
        specs=specs,
        description=description,
        can_subset=True,  # a UI run may select only some of the checks
        compute_kind="great_expectations",
        pool=WAREHOUSE_POOL,
    )
    def _gx_suites_check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        gx: GreatExpectationsResource,
    ) -> Iterator[dg.AssetCheckResult]:
        with warehouse.connect(read_only=read_only) as conn:
            for suite in suites:
                yield from _run_suite_checks(
                    context, conn, gx, suite, backend=backend, isolate_errors=isolate_errors
                )

    return _gx_suites_check


def build_suite_checks(
    suite: SuiteFile, *, backend: str = "pandas", read_only: bool = False
) -> dg.AssetChecksDefinition:
    """One op that runs `suite` on its table and reports its critical and warning checks."""
    return build_suites_checks(
        [suite],
        name=f"gx_{suite.schema}__{suite.table}",
        description=f"Runs Great Expectations suite `{suite.name}` on table {suite.name}.",
        backend=backend,
        read_only=read_only,
    )


def default_shared_ops() -> list[dg.AssetsDefinition]:
    """The multi-asset ops whose suites share one check step: the `dbt build` op."""
    from orchestration.assets.dbt import build_dbt_assets

    return [build_dbt_assets()]


def build_gx_checks(
    suite_dir: Path = EXPECTATIONS_DIR,
    asset_keys: set[dg.AssetKey] | None = None,
    *,
    backend: str = "pandas",
    read_only: bool = False,
    shared_ops: Sequence[dg.AssetsDefinition] | None = None,
) -> list[dg.AssetChecksDefinition]:
    """The checks of every suite in `suite_dir` whose asset is in `asset_keys` (None: all).

    The file `raw.orders.json` checks the asset `AssetKey(["raw", "orders"])` (table
    `raw.orders`). Suite files are format-checked here, so a malformed suite fails the
    definitions load with an error naming the file; GX itself is imported only when a check runs.
    `backend` is a key of `gx_validation.BACKENDS` (`pandas`, or `sql` to compute in DuckDB).

    Steps: the suites of assets that one op of `shared_ops` materializes (default: the dbt op,
    i.e. every mart) run in ONE check step named `gx_<op>`: all those assets are written before
    any of their checks can start, so one step gates exactly what separate steps would, for one
    step's overhead and one connection. Every other suite (the raw feeds, one ingest op each)
    keeps its own step `gx_<schema>__<table>`, so each feed's gate opens as soon as it is checked.
    """
    if backend not in BACKENDS:
        raise KeyError(f"unknown GX backend {backend!r}; known: {sorted(BACKENDS)}")
    suites = [
        suite
        for suite in discover_suite_files(suite_dir)
        if asset_keys is None or _suite_key(suite) in asset_keys
    ]
    if not suites:
        return []
    if shared_ops is None:
        shared_ops = default_shared_ops()
    op_of = {key: assets_def.node_def.name for assets_def in shared_ops for key in assets_def.keys}
    groups: dict[str, list[SuiteFile]] = {}
    singles: list[SuiteFile] = []
    for suite in suites:
        op_name = op_of.get(_suite_key(suite))
        if op_name is None:
            singles.append(suite)
        else:
            groups.setdefault(op_name, []).append(suite)
    checks = []
    for op_name, members in groups.items():
        if len(members) == 1:
            singles.append(members[0])
            continue
        checks.append(
            build_suites_checks(
                members,
                name=f"gx_{op_name}",
                description=(
                    f"Runs the Great Expectations suites of the {len(members)} assets of op "
                    f"`{op_name}` in one step: " + ", ".join(f"`{s.name}`" for s in members) + "."
                ),
                backend=backend,
                read_only=read_only,
            )
        )
    checks.extend(
        build_suite_checks(s, backend=backend, read_only=read_only)
        for s in sorted(singles, key=lambda s: s.name)
    )
    return checks
