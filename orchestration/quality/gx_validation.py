"""Great Expectations 1.x suites run against DuckDB tables, without `dagster-ge`.

`dagster-ge` pins GX < 1.0 and pandas < 3, so this is our own thin glue:

- A suite lives in `expectations/<schema>.<table>.json` in the GX 1.x format (`name`,
  `expectations: [{type, kwargs, meta}]`, `meta`). Every expectation carries
  `meta.severity`, `critical` or `warning`; `read_suite_file` checks the file format without
  importing GX (Dagster definitions stay fast to load), `load_suite` builds the
  `gx.ExpectationSuite` and fails with an error naming the file and the expectation.
- `validate_table` runs a suite with GX's `Validator` on a batch of ONE ephemeral GX context per
  process (GX takes ~5 s to import and keeps its state in the context, so both are lazy and
  cached; `warm_up` does both ahead of time, in a background thread) and returns a plain
  `SuiteResult` that callers (the Dagster checks) can render. The suite is not registered in the
  context's stores and no `ValidationDefinition` is saved: registering costs 0.1-0.3 s per suite
  (GX compares every expectation with every other one) and buys nothing in an ephemeral
  context; the Data Docs (`gx_docs`) are rendered from the suite and the result directly.
- The data reaches GX through a *backend* (`BACKENDS`). `pandas` (the default) reads the table
  with DuckDB's native reader into a DataFrame and validates it with GX's pandas datasource.
  `sql` lets GX's SQL execution engine compute the metrics inside DuckDB; out of the box GX's
  SQL datasource over duckdb-engine 0.17 returns empty results (GX reads rows after the
  connection went back to the pool, GX issues #10738, #11579), so it goes through the
  fully buffered dialect in `gx_sql`.
- With a `RowScope` (a run that loaded a range of daily partitions), `validate_table` splits the
  suite: the row-level expectations judge only the rows of the range, the table-level ones
  (row count, distinct values, uniqueness across partitions) the whole table, computed in
  DuckDB; see `is_row_level` and `RowScope`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import duckdb
    import great_expectations as gx
    import pandas as pd
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import AbstractDataContext

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")

MAX_UNEXPECTED_VALUES = 20  # per expectation, in results and Dagster metadata
_MAX_VALUE_CHARS = 200  # a single bad value longer than this is cut (free-text columns)

# A suite name is `<schema>.<table>`: it names the DuckDB table and the Dagster asset key, and is
# interpolated into SQL, so it is restricted to plain identifiers.
_SUITE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_SUITE_KEYS = frozenset({"name", "id", "expectations", "suite_parameters", "meta", "notes"})
_EXPECTATION_KEYS = frozenset(
    {"type", "kwargs", "meta", "id", "notes", "description", "severity", "rendered_content"}
)
# 0.x keys: a clear hint beats "unknown key" for the most common copy-paste mistake.
_LEGACY_KEYS = {"expectation_suite_name": "name", "expectation_type": "type"}

_DATASOURCE_NAME = "dagster_pandas"
_BATCH_DEFINITION_NAME = "whole"  # the whole DataFrame / the whole table
# BASIC gives unexpected_count and partial_unexpected_list (what the checks show) without the
# per-value counts and index lists of SUMMARY, which cost a group-by per expectation.
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": MAX_UNEXPECTED_VALUES}
# A suite is first run with BOOLEAN_ONLY, which skips the query for the sample of bad values of
# every map expectation (one round trip each on the sql backend); only a suite where something
# failed is run again with _RESULT_FORMAT, so its result is exactly what a single BASIC run gives.
_FAST_RESULT_FORMAT = {"result_format": "BOOLEAN_ONLY"}

# GX's context and stores are not thread-safe; the suite/definition registration and the run
# happen under this lock (Dagster runs our checks one at a time per process anyway).
_GX_LOCK = threading.Lock()


class SuiteFormatError(ValueError):
    """A suite file that is not a valid GX 1.x suite with our severity convention."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"expectation suite {path}: {problem}")
        self.path = path
        self.problem = problem


class TableReadError(RuntimeError):
    """The table a suite targets could not be read (missing table, schema, database...)."""


# --------------------------------------------------------------------------------------------
# Suite files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteFile:
    """A suite file whose format has been checked; GX is not imported to build it."""

    path: Path
    name: str  # `<schema>.<table>`, equal to the file name without `.json`
    expectations: tuple[dict[str, Any], ...]
    meta: dict[str, Any] = field(default_factory=dict)
    notes: str | list[str] | None = None

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    @property
    def asset_key_path(self) -> tuple[str, str]:
        """The Dagster asset key path the suite belongs to: `("raw", "orders")`."""
        return (self.schema, self.table)

    def count(self, severity: Severity) -> int:
        """Number of expectations with this severity."""
        return sum(1 for e in self.expectations if e["meta"]["severity"] == severity)


def _check_expectation(path: Path, index: int, exp: Any) -> dict[str, Any]:
    """Check one expectation entry's shape; return it unchanged."""
    where = f"expectations[{index}]"
    if not isinstance(exp, dict):
        raise SuiteFormatError(path, f"{where} must be an object, got {type(exp).__name__}")
    for legacy, current in _LEGACY_KEYS.items():
        if legacy in exp:
            raise SuiteFormatError(
                path, f"{where} uses the GX 0.x key {legacy!r}; GX 1.x calls it {current!r}"
            )
    unknown = sorted(set(exp) - _EXPECTATION_KEYS)
    if unknown:
        raise SuiteFormatError(path, f"{where} has unknown keys {unknown}")
    exp_type = exp.get("type")
    if not isinstance(exp_type, str) or not exp_type.startswith("expect_"):
        raise SuiteFormatError(
            path, f"{where} needs a 'type' such as 'expect_column_values_to_not_be_null'"
        )
    where = f"{where} ({exp_type})"
    if not isinstance(exp.get("kwargs"), dict):
        raise SuiteFormatError(path, f"{where} needs a 'kwargs' object")
    meta = exp.get("meta")
    severity = meta.get("severity") if isinstance(meta, dict) else None
    if severity not in SEVERITIES:
        raise SuiteFormatError(
            path, f"{where} needs meta.severity in {list(SEVERITIES)}, got {severity!r}"
        )
    # GX 1.24 expectations also have a `severity` field; we mirror meta.severity into it, so a
    # file that sets both must agree.
    if "severity" in exp and exp["severity"] != severity:
        raise SuiteFormatError(
            path, f"{where} has severity {exp['severity']!r} but meta.severity {severity!r}"
        )
    return exp


def read_suite_file(path: Path | str) -> SuiteFile:
    """Read and check a suite file's format (JSON, keys, severities) without importing GX.

    Raises:
        SuiteFormatError: naming the file and the problem.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteFormatError(path, f"cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SuiteFormatError(path, f"is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise SuiteFormatError(path, "must hold a JSON object")
    if "expectation_suite_name" in raw:
        raise SuiteFormatError(
            path, "uses the GX 0.x key 'expectation_suite_name'; GX 1.x calls it 'name'"
        )
    unknown = sorted(set(raw) - _SUITE_KEYS)
    if unknown:
        raise SuiteFormatError(path, f"has unknown top-level keys {unknown}")
    name = raw.get("name")
    if not isinstance(name, str) or not _SUITE_NAME.match(name):
        raise SuiteFormatError(
            path, f"'name' must be '<schema>.<table>' in lower case, got {name!r}"
        )
    if name != path.stem:
        raise SuiteFormatError(path, f"'name' is {name!r} but the file name says {path.stem!r}")
    expectations = raw.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteFormatError(path, "'expectations' must be a non-empty list")
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        raise SuiteFormatError(path, "'meta' must be an object")
    checked = tuple(_check_expectation(path, i, e) for i, e in enumerate(expectations))
    return SuiteFile(path=path, name=name, expectations=checked, meta=meta, notes=raw.get("notes"))


def discover_suite_files(suite_dir: Path | str) -> list[SuiteFile]:
    """Every `*.json` suite in `suite_dir`, checked and sorted by name."""
    return [read_suite_file(p) for p in sorted(Path(suite_dir).glob("*.json"))]


def load_suite(suite: SuiteFile | Path | str) -> gx.ExpectationSuite:
    """Build the `gx.ExpectationSuite` of a suite file.

    Every expectation is built on its own first: `gx.ExpectationSuite(expectations=[...])` only
    logs and drops an expectation it cannot build, which would silently shrink the gate.

    Raises:
        SuiteFormatError: naming the file and the expectation GX rejected (unknown type, bad
            kwargs...).
    """
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suite_file = suite if isinstance(suite, SuiteFile) else read_suite_file(suite)
    configs = []
    for index, exp in enumerate(suite_file.expectations):
        kwargs = {k: v for k, v in exp.items() if k != "id"}  # GX assigns ids when registering
        kwargs["severity"] = exp["meta"]["severity"]
        try:
            config = ExpectationConfiguration(**kwargs)
            config.to_domain_obj()  # unknown types and invalid kwargs raise here
        except Exception as exc:
            raise SuiteFormatError(
                suite_file.path, f"expectations[{index}] ({exp['type']}) is invalid: {exc}"
            ) from exc
        configs.append(config)
    return gx.ExpectationSuite(
        name=suite_file.name,
        expectations=configs,
        meta=dict(suite_file.meta),
        notes=suite_file.notes,
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, JSON-safe and independent of GX's classes."""

    type: str
    column: str | None  # the column, or the columns of a pair/compound expectation, joined
    kwargs: dict[str, Any]  # the expectation's arguments (JSON-safe)
    severity: Severity
    success: bool  # False also when GX raised while evaluating it
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    unexpected_values: list[Any] = field(default_factory=list)  # distinct, <= 20, JSON-safe
    observed_value: Any = None  # for aggregate expectations (row count, mean...)
    exception_message: str | None = None
    row_scope: str | None = None  # the rows it judged when not all (a RowScope); None: all

    @property
    def label(self) -> str:
        """`type(column)`, the short name used in messages."""
        return f"{self.type}({self.column})" if self.column else self.type


@dataclass(frozen=True)
class SuiteResult:
    """A suite run against one table."""

    suite_name: str
    table: str
    backend: str
    row_count: int | None  # rows of the table
    outcomes: tuple[ExpectationOutcome, ...]
    duration_s: float
    # With a RowScope: the rows the row-level expectations judged (e.g. "dt 2025-12-31..
    # 2025-12-31") and how many they were; None: every expectation judged every row.
    row_scope: str | None = None
    rows_in_scope: int | None = None
    # GX's own suite and result objects, for the Data Docs pages; not part of the value.
    gx_suite: Any = field(default=None, repr=False, compare=False)
    gx_result: Any = field(default=None, repr=False, compare=False)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    def outcomes_for(self, severity: Severity) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == severity]

    def failed(self, severity: Severity | None = None) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and severity in (None, o.severity)]


def to_json_safe(value: Any) -> Any:
    """Convert a value from a DataFrame or a GX result into plain JSON types.

    NaN/NaT/NA become None (GX reports the nulls of a not-null expectation as NaN), timestamps
    become ISO strings, numpy scalars become Python numbers, long strings are cut.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE_CHARS else value[:_MAX_VALUE_CHARS] + "…"
    if isinstance(value, Decimal):
        return None if value.is_nan() else float(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_safe(v) for v in value]
    if _is_missing(value):
        return None
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "item"):  # numpy scalars
        return to_json_safe(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp subclasses datetime; others
        return value.isoformat()
    return to_json_safe(str(value))


def _is_missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other non-scalars
        return False


def _distinct(values: Iterable[Any], limit: int) -> list[Any]:
    """Distinct JSON-safe values in first-seen order (uniqueness failures repeat each value)."""
    seen: set[str] = set()
    out: list[Any] = []
    for value in values:
        safe = to_json_safe(value)
        marker = json.dumps(safe, sort_keys=True, default=str)
        if marker not in seen:
            seen.add(marker)
            out.append(safe)
            if len(out) >= limit:
                break
    return out


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_list" in kwargs:
        return ", ".join(map(str, kwargs["column_list"]))
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return None


def _exception_message(exception_info: Any) -> str | None:
    """The first exception message in GX's exception_info.

    GX reports either one flat `{raised_exception, exception_message, ...}` dict or, when a
    metric failed to resolve, a dict of those keyed by metric id.
    """
    if not isinstance(exception_info, Mapping):
        return None
    if "raised_exception" in exception_info:
        if exception_info.get("raised_exception"):
            return str(exception_info.get("exception_message") or "exception raised")
        return None
    for info in exception_info.values():
        message = _exception_message(info)
        if message:
            return message
    return None


def _outcome(gx_result: Any) -> ExpectationOutcome:
    """Turn one `ExpectationValidationResult` into an `ExpectationOutcome`."""
    config = gx_result.expectation_config
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k not in ("batch_id",)}
    result = gx_result.result or {}
    message = _exception_message(gx_result.exception_info)
    unexpected_count = result.get("unexpected_count")
    unexpected_percent = result.get("unexpected_percent")
    return ExpectationOutcome(
        type=config.type,
        column=_column_of(kwargs),
        kwargs=to_json_safe(kwargs),
        severity=(config.meta or {}).get("severity", "critical"),
        # An expectation GX could not evaluate has not shown the data is good.
        success=bool(gx_result.success) and message is None,
        unexpected_count=None if unexpected_count is None else int(unexpected_count),
        unexpected_percent=to_json_safe(unexpected_percent),
        unexpected_values=_distinct(
            result.get("partial_unexpected_list") or [], MAX_UNEXPECTED_VALUES
        ),
        observed_value=to_json_safe(result.get("observed_value")),
        exception_message=message,
    )


def _suite_result(
    gx_suite: gx.ExpectationSuite,
    gx_result: ExpectationSuiteValidationResult,
    *,
    table: str,
    backend: str,
    row_count: int | None,
    started: float,
    row_scope: RowScope | None = None,
    rows_in_scope: int | None = None,
    scoped_ids: frozenset[str] = frozenset(),
) -> SuiteResult:
    """The plain result; with `row_scope`, the expectations of `scoped_ids` judged its rows."""
    # GX returns results in metric-resolution order, not suite order; restore the file's order
    # so reports read like the suite.
    order = {e.id: i for i, e in enumerate(gx_suite.expectations)}
    results = sorted(
        gx_result.results, key=lambda r: order.get(r.expectation_config.id, len(order))
    )
    outcomes = []
    for r in results:
        outcome = _outcome(r)
        if row_scope is not None and r.expectation_config.id in scoped_ids:
            outcome = dataclasses.replace(outcome, row_scope=str(row_scope))
        outcomes.append(outcome)
    return SuiteResult(
        suite_name=gx_suite.name,
        table=table,
        backend=backend,
        row_count=row_count,
        outcomes=tuple(outcomes),
        duration_s=round(time.perf_counter() - started, 3),
        row_scope=None if row_scope is None else str(row_scope),
        rows_in_scope=rows_in_scope,
        gx_suite=gx_suite,
        gx_result=gx_result,
    )


# --------------------------------------------------------------------------------------------
# GX context and backends
# --------------------------------------------------------------------------------------------


@functools.cache
def gx_context() -> AbstractDataContext:
    """The process's one ephemeral GX context, quiet: no progress bars, analytics or INFO logs."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX logs every datasource/asset registration at INFO and tqdm-draws metric progress on
    # stderr; inside Dagster both only bury the check's own messages.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    # Every datasource or asset added re-serializes the whole project config to YAML, into the
    # ephemeral context's in-memory store that nothing reads back: 40 assets cost 0.17 s, and
    # each costs more as the config grows (one per suite and row scope in a run).
    context._save_project_config = lambda: None  # type: ignore[method-assign]
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.data_sources.add_pandas(_DATASOURCE_NAME)
    return context


def _pandas_batch_definition(context: AbstractDataContext, name: str) -> Any:
    """The whole-DataFrame batch definition of a DataFrame asset named after the suite."""
    datasource = context.data_sources.get(_DATASOURCE_NAME)
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name)
        asset.add_batch_definition_whole_dataframe(_BATCH_DEFINITION_NAME)
    return asset.get_batch_definition(_BATCH_DEFINITION_NAME)


def _with_ids(suite: gx.ExpectationSuite) -> gx.ExpectationSuite:
    """Give every expectation an id (a store would): results are matched to the suite by id."""
    for expectation in suite.expectations:
        if expectation.id is None:
            expectation.id = str(uuid.uuid4())
    return suite


_MEMO = threading.local()


def _install_configuration_memo() -> None:
    """Let `Expectation.configuration` be memoized per expectation object inside `_memoized`.

    GX 1.x rebuilds an expectation's `configuration` (a pydantic `dict()` plus a new
    `ExpectationConfiguration`) on every access, and building the metric graph reads it ~100
    times per expectation: about a third of the validation's Python time. Within one validation
    the expectation objects do not change, so the first value is reused. Outside `_memoized`, and
    in every other thread, the property behaves exactly as GX's.
    """
    from great_expectations.expectations.expectation import Expectation

    original = Expectation.__dict__["configuration"]
    if getattr(original.fget, "_memoized", False):
        return
    build = original.fget

    def configuration(self: Any) -> Any:
        memo = getattr(_MEMO, "configurations", None)
        if memo is None:
            return build(self)
        hit = memo.get(id(self))
        if hit is None or hit[0] is not self:  # keep the object: its id is not reused meanwhile
            hit = memo[id(self)] = (self, build(self))
        return hit[1]

    configuration._memoized = True  # type: ignore[attr-defined]
    Expectation.configuration = property(configuration, doc=original.__doc__)  # type: ignore[assignment,method-assign]


@contextmanager
def _memoized() -> Iterator[None]:
    _install_configuration_memo()
    _MEMO.configurations = {}
    try:
        yield
    finally:
        _MEMO.configurations = None


def _validate(
    batch_definition: Any,
    suite: gx.ExpectationSuite,
    batch_parameters: dict[str, Any] | None,
    result_format: dict[str, Any],
) -> ExpectationSuiteValidationResult:
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=batch_definition,
        batch_parameters=batch_parameters,
        result_format=result_format,
    )
    with _memoized():
        return validator.validate_expectation_suite(suite)


def _run_suite(
    batch_definition: Any,
    suite: gx.ExpectationSuite,
    batch_parameters: dict[str, Any] | None = None,
) -> ExpectationSuiteValidationResult:
    """Validate the batch with GX's Validator, as `ValidationDefinition.run` does, minus stores.

    Pass/fail first (`_FAST_RESULT_FORMAT`); the bad values only when something failed.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    suite = _with_ids(suite)
    result = _validate(batch_definition, suite, batch_parameters, _FAST_RESULT_FORMAT)
    if not result.success:
        result = _validate(batch_definition, suite, batch_parameters, _RESULT_FORMAT)
    run_id = RunIdentifier(run_name=suite.name, run_time=datetime.now(UTC))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    return result


def validate_dataframe(
    df: pd.DataFrame, suite: gx.ExpectationSuite, *, table: str = "<dataframe>"
) -> SuiteResult:
    """Validate an in-memory DataFrame with the suite."""
    started = time.perf_counter()
    with _GX_LOCK:
        context = gx_context()
        batch_definition = _pandas_batch_definition(context, suite.name)
        gx_result = _run_suite(batch_definition, suite, {"dataframe": df})
    return _suite_result(
        suite,
        gx_result,
        table=table,
        backend="pandas",
        row_count=len(df),
        started=started,
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def quoted_table(name: str) -> str:
    """`raw.orders` -> `"raw"."orders"` (names are checked identifiers; quoting is for keywords)."""
    return ".".join(_quote(part) for part in name.split("."))


def _columns_to_read(suite: gx.ExpectationSuite, table_columns: list[str]) -> list[str]:
    """The table's columns that the suite's expectations name, in table order.

    Reading only those keeps the DataFrame small. Every column is read when an expectation is
    about the table's columns themselves (`expect_table_column...`) or when no column is named
    (the DataFrame must still have the table's rows). A named column the table lacks is left
    to GX, which fails that expectation with "column does not exist".
    """
    named: set[str] = set()
    for expectation in suite.expectations:
        config = expectation.configuration
        if config.type.startswith("expect_table_column"):
            return table_columns
        kwargs = config.kwargs
        named.update(str(kwargs[k]) for k in ("column", "column_A", "column_B") if k in kwargs)
        named.update(str(c) for c in kwargs.get("column_list") or ())
        condition = kwargs.get("row_condition")
        if condition is not None and not isinstance(condition, dict):
            return table_columns  # a condition string may name any column: read them all
        named.update(_condition_columns(condition))
    chosen = [c for c in table_columns if c in named]
    return chosen or table_columns


def _condition_columns(condition: object) -> set[str]:
    """Columns a GX 1.x condition object (`{"type": "comparison", "column": {"name": …}}`,
    possibly nested in and/or groups) refers to: they must be read for the condition to work."""
    if isinstance(condition, dict):
        found = set()
        column = condition.get("column")
        if isinstance(column, dict) and "name" in column:
            found.add(str(column["name"]))
        for value in condition.values():
            found |= _condition_columns(value)
        return found
    if isinstance(condition, list):
        return set().union(*(_condition_columns(item) for item in condition))
    return set()


def _validate_pandas(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    suite: gx.ExpectationSuite,
    *,
    where: str | None = None,
) -> SuiteResult:
    """Read the table (its rows matching `where`, if given) with DuckDB's native reader and
    validate the DataFrame."""
    import duckdb

    started = time.perf_counter()
    try:
        table_columns = [c[0] for c in conn.execute(f"describe {quoted_table(table)}").fetchall()]
        columns = ", ".join(_quote(c) for c in _columns_to_read(suite, table_columns))
        condition = f" where {where}" if where else ""
        df = conn.sql(f"select {columns} from {quoted_table(table)}{condition}").df()
    except duckdb.Error as exc:
        raise TableReadError(f"cannot read table {table}: {exc}") from exc
    result = validate_dataframe(df, suite, table=table)
    # Report the time including the read: that is what the check costs.
    return dataclasses.replace(result, duration_s=round(time.perf_counter() - started, 3))


def _sql_batch_definition(
    context: AbstractDataContext, table: str, where: str | None = None
) -> Any:
    """The whole-table batch definition of a GX table asset on a `duckdb+buffered` datasource,
    or, with `where`, of a query asset selecting the table's rows that match it.

    One datasource per schema: its connections use that schema as the default (see gx_sql).
    Datasource and asset creation test the connection, so this runs inside
    `gx_sql.active_connection`. A query asset is kept per condition (one per partition range
    checked in this process); DuckDB pushes the condition into the scan of every metric query.
    """
    from orchestration.quality import gx_sql

    schema, table_name = table.split(".")
    datasource_name = f"dagster_duckdb_{schema}"
    try:
        datasource = context.data_sources.get(datasource_name)
    except KeyError:
        datasource = context.data_sources.add_sql(
            datasource_name,
            connection_string=gx_sql.DIALECT_URL,
            kwargs=gx_sql.engine_kwargs(schema),
        )
    asset_name = table if where is None else f"{table} where {where}"
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        if where is None:
            asset = datasource.add_table_asset(asset_name, table_name=table_name)
        else:
            asset = datasource.add_query_asset(
                asset_name, query=f"SELECT * FROM {quoted_table(table)} WHERE {where}"
            )
        asset.add_batch_definition_whole_table(_BATCH_DEFINITION_NAME)
    return asset.get_batch_definition(_BATCH_DEFINITION_NAME)


def _row_count(conn: duckdb.DuckDBPyConnection, table: str, where: str | None = None) -> int:
    """Rows of `table` (matching `where`); TableReadError when it cannot be read."""
    import duckdb

    condition = f" where {where}" if where else ""
    try:
        (row_count,) = conn.execute(
            f"select count(*) from {quoted_table(table)}{condition}"
        ).fetchone()
    except duckdb.Error as exc:
        raise TableReadError(f"cannot read table {table}: {exc}") from exc
    return row_count


def _validate_sql(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    suite: gx.ExpectationSuite,
    *,
    where: str | None = None,
) -> SuiteResult:
    """Let GX compute the metrics in DuckDB (SQL execution engine over `conn`), on the whole
    table or on its rows matching `where`."""
    from orchestration.quality import gx_sql

    started = time.perf_counter()
    row_count = _row_count(conn, table, where)
    with _GX_LOCK, gx_sql.active_connection(conn):
        context = gx_context()
        batch_definition = _sql_batch_definition(context, table, where)
        gx_result = _run_suite(batch_definition, suite)
    return _suite_result(
        suite,
        gx_result,
        table=table,
        backend="sql",
        row_count=row_count,
        started=started,
    )


# `auto`: GX's pandas engine answers an expectation about twice as fast as a SQL round trip on
# a small table, but reading a large one into pandas costs more than the queries (SF1 marts:
# 365-row daily marts 0.04 vs 0.09 s a suite; the 212 k-row customer_snapshot 6.7 vs 0.4 s;
# the 20 k-row daily_funnel 0.42 vs 0.11 s; docs/performance.md).
AUTO_PANDAS_MAX_ROWS = 15_000


def _validate_auto(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    suite: gx.ExpectationSuite,
    *,
    where: str | None = None,
) -> SuiteResult:
    """pandas for a table (its rows matching `where`) of at most AUTO_PANDAS_MAX_ROWS rows,
    sql for a larger one. The result's `backend` names the one that ran."""
    small = _row_count(conn, table, where) <= AUTO_PANDAS_MAX_ROWS
    chosen = _validate_pandas if small else _validate_sql
    return chosen(conn, table, suite, where=where)


class Backend(Protocol):
    def __call__(
        self,
        conn: duckdb.DuckDBPyConnection,
        table: str,
        suite: gx.ExpectationSuite,
        *,
        where: str | None = None,
    ) -> SuiteResult: ...


# name -> function(conn, table, suite, where=None).
# - pandas: the table is read into memory (simple; memory grows with the table).
# - sql: GX computes the metrics in DuckDB through the buffered dialect of gx_sql (much faster
#   and lighter on big tables; relies on our workaround of two duckdb-engine defects).
# - auto: pandas for a small table, sql for a large one (AUTO_PANDAS_MAX_ROWS).
BACKENDS: dict[str, Backend] = {
    "pandas": _validate_pandas,
    "sql": _validate_sql,
    "auto": _validate_auto,
}


# --------------------------------------------------------------------------------------------
# Row scopes: the row-level expectations on a range of partitions
# --------------------------------------------------------------------------------------------

PARTITION_COLUMN = "_partition_dt"  # the raw tables' delivery date (orchestration.contract)

# Expectations that judge each row (or each pair of columns of a row) on its own: a table passes
# one exactly when each of its partitions does, so a run may judge only the partitions it wrote.
# With `mostly` the share is then the range's share: stricter, never laxer, since a table whose
# every range passed has at least that share overall.
_ROW_LEVEL_PREFIXES = ("expect_column_values_", "expect_column_pair_values_")
_ROW_LEVEL_TYPES = frozenset(
    {"expect_multicolumn_sum_to_equal", "expect_select_column_values_to_be_unique_within_record"}
)
# ...except those that compare a row with the table's other rows.
_ACROSS_ROWS = frozenset(
    {
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_increasing",
        "expect_column_values_to_be_decreasing",
    }
)
# Uniqueness of a key is decided by one partition's rows when the key includes the partition.
_KEY_UNIQUENESS = frozenset(
    {"expect_compound_columns_to_be_unique", "expect_multicolumn_values_to_be_unique"}
)


def is_row_level(
    exp_type: str, kwargs: Mapping[str, Any], partition_column: str = PARTITION_COLUMN
) -> bool:
    """Whether an expectation's verdict on a table is the conjunction of its verdicts on the
    table's partitions (then a range's rows suffice); anything else is table-level.

    Row-level: `expect_column_values_*` (but not unique/increasing/decreasing, which compare rows
    with each other), `expect_column_pair_values_*`, the per-record multicolumn ones, and
    `expect_compound_columns_to_be_unique` whose `column_list` includes the partition column.
    Table-level: the row count, distinct values, aggregates (mean, min...), uniqueness across
    partitions, and every expectation type not listed here (judging the whole table is always
    correct, only slower).
    """
    if exp_type in _KEY_UNIQUENESS:
        return partition_column in (kwargs.get("column_list") or ())
    if exp_type in _ACROSS_ROWS:
        return False
    return exp_type in _ROW_LEVEL_TYPES or exp_type.startswith(_ROW_LEVEL_PREFIXES)


@dataclass(frozen=True)
class RowScope:
    """The rows the row-level expectations judge: `column` (a DATE) from `first` to `last`.

    The checks of a run that loaded a range of daily partitions use one (gx_checks decides when
    that is sound); the table-level expectations still judge every row.
    """

    first: date
    last: date
    column: str = PARTITION_COLUMN

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"empty row scope: {self.first} .. {self.last}")

    @property
    def predicate(self) -> str:
        """SQL: the scope's rows (a row without a partition is outside every scope)."""
        return (
            f"{_quote(self.column)} BETWEEN DATE '{self.first.isoformat()}' "
            f"AND DATE '{self.last.isoformat()}'"
        )

    def __str__(self) -> str:
        return f"dt {self.first.isoformat()}..{self.last.isoformat()}"


def split_suite(
    suite: gx.ExpectationSuite, partition_column: str = PARTITION_COLUMN
) -> tuple[gx.ExpectationSuite, gx.ExpectationSuite]:
    """The (row-level, table-level) parts of `suite`, holding the suite's own expectation
    objects, so that their results keep the suite's expectation ids (and order)."""
    import great_expectations as gx

    suite = _with_ids(suite)
    parts = []
    for row_level in (True, False):
        part = gx.ExpectationSuite(name=suite.name, meta=dict(suite.meta), notes=suite.notes)
        # Assigned, not passed: the constructor refuses expectations that already have an id.
        part.expectations = [
            e
            for e in suite.expectations
            if is_row_level(e.expectation_type, e.configuration.kwargs, partition_column)
            == row_level
        ]
        parts.append(part)
    return parts[0], parts[1]


def _merge_results(
    suite: gx.ExpectationSuite, results: list[ExpectationSuiteValidationResult], note: str
) -> ExpectationSuiteValidationResult:
    """One GX result of `suite` from the results of its parts (for the Data Docs page)."""
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    first = results[0]
    merged = [r for result in results for r in result.results]
    statistics = calc_validation_statistics(merged)
    meta = {k: v for k, v in first.meta.items() if k not in ("run_id", "validation_time")}
    meta["row_scope"] = note
    combined = ExpectationSuiteValidationResult(
        success=statistics.success,
        results=merged,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta=meta,
        batch_id=first.batch_id,
    )
    combined.meta["run_id"] = first.meta["run_id"]
    combined.meta["validation_time"] = first.meta["validation_time"]
    return combined


def _count(conn: duckdb.DuckDBPyConnection, table: str, where: str | None = None) -> int:
    import duckdb

    condition = f" where {where}" if where else ""
    try:
        (count,) = conn.execute(f"select count(*) from {quoted_table(table)}{condition}").fetchone()
    except duckdb.Error as exc:
        raise TableReadError(f"cannot read table {table}: {exc}") from exc
    return int(count)


def _validate_scoped(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    suite: gx.ExpectationSuite,
    backend: str,
    scope: RowScope,
) -> SuiteResult:
    """The row-level expectations on the scope's rows (with `backend`), the table-level ones on
    every row, computed in DuckDB by GX's SQL engine whatever the backend: reading a whole table
    into pandas for its row count is what the scope is meant to avoid."""
    started = time.perf_counter()
    row_part, table_part = split_suite(suite, scope.column)
    parts: list[SuiteResult] = []
    rows_in_scope = row_count = None
    if row_part.expectations:
        scoped = BACKENDS[backend](conn, table, row_part, where=scope.predicate)
        rows_in_scope = scoped.row_count
        parts.append(scoped)
    if table_part.expectations:
        whole = _validate_sql(conn, table, table_part)
        row_count = whole.row_count
        parts.append(whole)
    if rows_in_scope is None:
        rows_in_scope = _count(conn, table, scope.predicate)
    if row_count is None:
        row_count = _count(conn, table)
    note = f"{scope}: {rows_in_scope:,} of {row_count:,} rows; table-level expectations on all rows"
    return _suite_result(
        suite,
        _merge_results(suite, [p.gx_result for p in parts], note),
        table=table,
        backend=backend,
        row_count=row_count,
        started=started,
        row_scope=scope,
        rows_in_scope=rows_in_scope,
        scoped_ids=frozenset(str(e.id) for e in row_part.expectations),
    )


def validate_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    suite: gx.ExpectationSuite | SuiteFile | Path | str,
    *,
    backend: str = "pandas",
    row_scope: RowScope | None = None,
) -> SuiteResult:
    """Run a suite against a DuckDB table (`<schema>.<table>`) and return a plain result.

    With `row_scope`, the row-level expectations (`is_row_level`) judge only the scope's rows
    and the others the whole table; the caller decides when that is sound (rows outside the
    scope unchanged since a passing check). Without it, every expectation judges every row.

    Raises:
        SuiteFormatError: the suite file is malformed.
        TableReadError: the table cannot be read.
        KeyError: unknown backend.
    """
    if backend not in BACKENDS:
        raise KeyError(f"unknown GX backend {backend!r}; known: {sorted(BACKENDS)}")
    if not _SUITE_NAME.match(table):
        raise ValueError(f"table must be '<schema>.<table>', got {table!r}")
    gx_suite = load_suite(suite) if isinstance(suite, SuiteFile | Path | str) else suite
    if row_scope is not None:
        return _validate_scoped(conn, table, gx_suite, backend, row_scope)
    return BACKENDS[backend](conn, table, gx_suite)


# --------------------------------------------------------------------------------------------
# Warm-up
# --------------------------------------------------------------------------------------------

_WARM_UPS: dict[str, threading.Thread] = {}
_WARM_UPS_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


def warm_up(suites: Iterable[SuiteFile] = (), docs_dir: Path | None = None) -> None:
    """Import GX, build the context and, with `docs_dir`, render the stale suite pages.

    Everything here would otherwise happen in the first check (the import alone takes ~5 s).
    """
    with _GX_LOCK:
        gx_context()
        # The Validator and both execution engines are imported on first use; do it now.
        import great_expectations.execution_engine
        import great_expectations.validator.v1_validator  # noqa: F401

        from orchestration.quality import gx_sql  # noqa: F401
    if docs_dir is not None:
        from orchestration.quality import gx_docs

        gx_docs.ensure_suite_pages(docs_dir, [load_suite(s) for s in suites])


def start_warm_up(
    suites: Iterable[SuiteFile] = (), docs_dir: Path | None = None
) -> threading.Thread:
    """Run `warm_up` in a daemon thread, once per process and docs folder.

    The Dagster checks start it when the run initializes its resources, so the GX import and the
    suite pages overlap the ingest and dbt steps instead of delaying the first check. A check
    that starts before the warm-up is done simply waits for GX's lock. A failed warm-up is
    logged and costs nothing but time: the checks do the same work lazily.
    """
    key = str(docs_dir)
    suites = list(suites)
    with _WARM_UPS_LOCK:
        thread = _WARM_UPS.get(key)
        if thread is None:

            def run() -> None:
                try:
                    warm_up(suites, docs_dir)
                except Exception:  # the checks retry lazily and report real errors
                    _log.warning("GX warm-up failed", exc_info=True)

            thread = threading.Thread(target=run, name="gx-warm-up", daemon=True)
            _WARM_UPS[key] = thread
            thread.start()
        return thread
