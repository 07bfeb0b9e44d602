"""Great Expectations suites (`expectations/<schema>.<table>.json`) run on DuckDB tables.

A suite file is a GX 1.x suite whose every expectation has `meta.severity`, `critical` or
`warning`. `validate_table` adds the suite to a GX context, runs a `ValidationDefinition` on a
batch of the table and returns a `SuiteResult`. A table of at most PANDAS_MAX_ROWS rows goes to
GX's pandas datasource as a DataFrame; a larger one to GX's SQL datasource, which computes the
metrics in DuckDB. With a `RowScope`, the row-level expectations get a `row_condition` on the
partition column, so a run that loaded some days judges those days' rows, while the table-level
ones (row count, distinct values, uniqueness across days) still judge the whole table.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import duckdb
    import great_expectations as gx
    from great_expectations.data_context import AbstractDataContext

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")
BACKENDS = ("auto", "pandas", "sql")
PANDAS_MAX_ROWS = 15_000  # `auto`: GX's pandas engine is faster on small tables, SQL on big ones
MAX_UNEXPECTED_VALUES = 20
PARTITION_COLUMN = "_partition_dt"  # the raw tables' delivery date (orchestration.contract)
RESULTS_DIR = ".results"  # GX's validation results store, inside the docs folder

_SUITE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_SUITE_KEYS = {"name", "id", "expectations", "suite_parameters", "meta", "notes"}
_EXPECTATION_KEYS = {"type", "kwargs", "meta", "id", "notes", "description", "severity"}
_LEGACY_KEYS = {"expectation_suite_name": "name", "expectation_type": "type"}
_FAST = {"result_format": "BOOLEAN_ONLY"}
_DETAILED = {"result_format": "BASIC", "partial_unexpected_count": MAX_UNEXPECTED_VALUES}
GX_LOCK = threading.RLock()  # GX's context and stores are not thread-safe


class SuiteFormatError(ValueError):
    """A suite file that is not a valid GX 1.x suite with our severity convention."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"expectation suite {path}: {problem}")


class TableReadError(RuntimeError):
    """The table a suite targets cannot be read."""


@dataclass(frozen=True)
class SuiteFile:
    """A suite file whose format was checked; GX is not imported to read it."""

    path: Path
    name: str  # `<schema>.<table>`: the table, the asset key and the file name
    expectations: tuple[dict[str, Any], ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    def count(self, severity: Severity) -> int:
        return sum(1 for e in self.expectations if e["meta"]["severity"] == severity)


def _problem(data: Any, allowed: set[str], where: str) -> str | None:
    """What is wrong with the keys of one object of a suite file, if anything."""
    if not isinstance(data, dict):
        return f"{where} must be a JSON object"
    legacy = next((k for k in _LEGACY_KEYS if k in data), None)
    if legacy:
        return f"{where} uses the GX 0.x key {legacy!r}; GX 1.x calls it {_LEGACY_KEYS[legacy]!r}"
    unknown = sorted(set(data) - allowed)
    return f"{where} has unknown keys {unknown}" if unknown else None


def read_suite_file(path: Path | str) -> SuiteFile:
    """Read a suite file and check its format; SuiteFormatError names the file and problem."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SuiteFormatError(path, f"is not valid JSON: {exc}") from exc
    problem = _problem(raw, _SUITE_KEYS, "the top level")
    if problem is None and raw.get("name") != path.stem:
        problem = f"'name' is {raw.get('name')!r} but the file name says {path.stem!r}"
    if problem is None and not _SUITE_NAME.match(path.stem):
        problem = "the name must be '<schema>.<table>' in lower case"
    expectations = raw.get("expectations") if problem is None else None
    if problem is None and (not isinstance(expectations, list) or not expectations):
        problem = "'expectations' must be a non-empty list"
    for i, exp in enumerate(expectations or []):
        where = f"expectations[{i}] ({exp.get('type') if isinstance(exp, dict) else exp})"
        problem = _problem(exp, _EXPECTATION_KEYS, where)
        if problem is None and not isinstance(exp.get("kwargs"), dict):
            problem = f"{where} needs 'type' and a 'kwargs' object"
        if problem is None and (exp.get("meta") or {}).get("severity") not in SEVERITIES:
            problem = f"{where} needs meta.severity in {list(SEVERITIES)}"
        if problem:
            break
    if problem:
        raise SuiteFormatError(path, problem)
    return SuiteFile(path, path.stem, tuple(expectations), raw.get("meta") or {})


def discover_suite_files(suite_dir: Path | str) -> list[SuiteFile]:
    """Every `*.json` suite in `suite_dir`, checked, sorted by name."""
    return [read_suite_file(p) for p in sorted(Path(suite_dir).glob("*.json"))]


def load_suite(
    suite: SuiteFile, expectations: Iterable[dict[str, Any]] = ()
) -> gx.ExpectationSuite:
    """The `gx.ExpectationSuite` of a suite file (or of `expectations`, a variant of them).

    Each expectation is built on its own first: GX's suite drops one it cannot build.
    """
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = []
    for index, exp in enumerate(expectations or suite.expectations):
        try:
            config = ExpectationConfiguration(**{k: v for k, v in exp.items() if k != "id"})
            built.append(config.to_domain_obj())
        except Exception as exc:
            where = f"expectations[{index}] ({exp['type']})"
            raise SuiteFormatError(suite.path, f"{where} is invalid: {exc}") from exc
    return gx.ExpectationSuite(name=suite.name, expectations=built, meta=dict(suite.meta))


# ------------------------------------------------------------------------------ row scopes

_ROW_LEVEL_PREFIXES = ("expect_column_values_", "expect_column_pair_values_")
_ROW_LEVEL_TYPES = {"expect_multicolumn_sum_to_equal"}
_ACROSS_ROWS = {
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
}


def is_row_level(exp_type: str, kwargs: Mapping[str, Any]) -> bool:
    """Whether a table passes the expectation exactly when each of its partitions does.

    Row-level: `expect_column_values_*` except unique/increasing/decreasing, the column-pair
    ones, and uniqueness of a key that includes the partition column. Everything else (row
    count, distinct values, aggregates, unknown types) judges the whole table.
    """
    if exp_type in (
        "expect_compound_columns_to_be_unique",
        "expect_multicolumn_values_to_be_unique",
    ):
        return PARTITION_COLUMN in (kwargs.get("column_list") or ())
    if exp_type in _ACROSS_ROWS:
        return False
    return exp_type in _ROW_LEVEL_TYPES or exp_type.startswith(_ROW_LEVEL_PREFIXES)


@dataclass(frozen=True)
class RowScope:
    """The partitions, `first` to `last`, whose rows the row-level expectations judge."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"empty row scope: {self.first} .. {self.last}")

    @property
    def predicate(self) -> str:
        return f"{PARTITION_COLUMN} BETWEEN DATE '{self.first}' AND DATE '{self.last}'"

    def conditions(self) -> list[dict[str, Any]]:
        column = {"name": PARTITION_COLUMN}
        bounds = ((">=", self.first), ("<=", self.last))
        return [
            {"type": "comparison", "column": column, "operator": o, "parameter": d.isoformat()}
            for o, d in bounds
        ]

    def __str__(self) -> str:
        return f"dt {self.first}..{self.last}"


def scope_expectation(exp: dict[str, Any], scope: RowScope) -> dict[str, Any] | None:
    """`exp` limited to the scope's rows with a `row_condition`, or None if it must judge
    every row (table-level, or a condition that cannot be combined with AND)."""
    if not is_row_level(exp["type"], exp["kwargs"]):
        return None
    conditions = scope.conditions()
    existing = exp["kwargs"].get("row_condition")
    if isinstance(existing, dict) and existing.get("type") in ("comparison", "nullity"):
        conditions.append(existing)
    elif isinstance(existing, dict) and existing.get("type") == "and":
        conditions.extend(existing["conditions"])
    elif existing is not None:
        return None
    kwargs = {**exp["kwargs"], "row_condition": {"type": "and", "conditions": conditions}}
    return {**exp, "kwargs": kwargs}


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, JSON-safe."""

    type: str
    column: str | None  # the column, or the columns of a pair/compound expectation, joined
    kwargs: dict[str, Any]
    severity: Severity
    success: bool  # False also when GX raised while evaluating it
    unexpected_count: int | None = None
    unexpected_values: list[Any] = field(default_factory=list)  # distinct, at most 20
    observed_value: Any = None
    exception_message: str | None = None
    row_scope: str | None = None  # the rows it judged when not every row

    @property
    def label(self) -> str:
        return f"{self.type}({self.column})" if self.column else self.type


@dataclass(frozen=True)
class SuiteResult:
    """A suite run on one table; `result_id` names GX's stored result (its Data Docs page)."""

    suite_name: str
    table: str
    backend: str
    row_count: int
    outcomes: tuple[ExpectationOutcome, ...]
    duration_s: float
    row_scope: str | None = None
    rows_in_scope: int | None = None
    result_id: Any = field(default=None, repr=False, compare=False)
    gx_result: Any = field(default=None, repr=False, compare=False)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    def outcomes_for(self, severity: Severity) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == severity]

    def failed(self, severity: Severity | None = None) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and severity in (None, o.severity)]


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return ", ".join(map(str, kwargs["column_list"])) if "column_list" in kwargs else None


def _exception_message(info: Any) -> str | None:
    """The first message in GX's exception_info (flat, or keyed by metric)."""
    if not isinstance(info, Mapping):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "raised") if info["raised_exception"] else None
    return next((m for m in map(_exception_message, info.values()) if m), None)


def _outcome(result: Any, row_scope: str | None) -> ExpectationOutcome:
    """One GX result as plain JSON (GX's own conversion: NaN is null, timestamps ISO text)."""
    data = result.to_json_dict()
    config, found = data["expectation_config"], data.get("result") or {}
    kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
    message = _exception_message(data.get("exception_info"))
    values: list[Any] = []
    for value in found.get("partial_unexpected_list") or []:
        if value not in values:  # uniqueness failures repeat each value
            values.append(value)
    return ExpectationOutcome(
        type=config["type"],
        column=_column_of(kwargs),
        kwargs=kwargs,
        severity=config["meta"]["severity"],
        success=bool(data["success"]) and message is None,
        unexpected_count=found.get("unexpected_count"),
        unexpected_values=values[:MAX_UNEXPECTED_VALUES],
        observed_value=found.get("observed_value"),
        exception_message=message,
        row_scope=row_scope,
    )


# ------------------------------------------------------------------------------ GX context


def site_config(docs_dir: Path) -> dict[str, Any]:
    """GX's local Data Docs site in `docs_dir`, listing the newest validations."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir),
        },
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": 100,
        },
    }


@functools.cache
def gx_context(docs_dir: Path | None = None) -> AbstractDataContext:
    """The process's ephemeral GX context for a docs folder (None: no Data Docs).

    Suites and validation definitions live in memory. With a docs folder, the validation results
    are files in it, so the site lists the recent runs of every process.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    defaults, sites = InMemoryStoreBackendDefaults(), {}
    if docs_dir is not None:
        store = defaults.stores[defaults.validation_results_store_name]
        backend = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir / RESULTS_DIR),
        }
        store["store_backend"] = backend
        sites = {"local_site": site_config(docs_dir)}
    config = DataContextConfig(
        store_backend_defaults=defaults,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.data_sources.add_pandas("pandas")
    return context


def register(context: AbstractDataContext, suite: gx.ExpectationSuite, batch: Any = None) -> Any:
    """Add `suite` (replacing one of the same name) and, with a batch definition, its
    validation definition; returns that definition, or the suite as stored."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    for store in (context.validation_definitions, context.suites):
        try:
            store.delete(suite.name)
        except DataContextError:
            pass
    suite = context.suites.add(suite)
    if batch is None:
        return suite
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
    )


def _buffer_rows(
    conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any
) -> None:
    """Fetch a query's rows as soon as it ran: GX reads them after closing its connection, and
    DuckDB drops them at the rollback that comes with the close (GX issues #10738, #11579)."""
    from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy

    if cursor.description is not None:
        rows = cursor.fetchall()
        context.cursor_fetch_strategy = FullyBufferedCursorFetchStrategy(
            cursor, cursor.description, rows
        )


def _sql_batch(context: AbstractDataContext, conn: duckdb.DuckDBPyConnection, table: str) -> Any:
    """A GX SQL table asset whose connections are cursors of `conn` (same database instance,
    no second writer), with the table's schema as their default schema."""
    import sqlalchemy as sa
    from duckdb_engine import ConnectionWrapper

    schema, name = table.split(".")

    def connect() -> ConnectionWrapper:
        cursor = conn.cursor()
        cursor.execute(f"SET schema = '{schema}'")
        return ConnectionWrapper(cursor)

    kwargs = {"creator": connect, "poolclass": sa.pool.NullPool}
    datasource = context.data_sources.add_or_update_sql(
        table, connection_string="duckdb:///:memory:", kwargs=kwargs
    )
    sa.event.listen(datasource.get_execution_engine().engine, "after_cursor_execute", _buffer_rows)
    return datasource.add_table_asset(name, table_name=name).add_batch_definition_whole_table(
        "whole"
    )


def _pandas_batch(context: AbstractDataContext, table: str) -> Any:
    datasource = context.data_sources.get("pandas")
    try:
        asset = datasource.get_asset(table)
    except LookupError:
        asset = datasource.add_dataframe_asset(table)
        asset.add_batch_definition_whole_dataframe("whole")
    return asset.get_batch_definition("whole")


def quoted_table(name: str) -> str:
    """`raw.orders` -> `"raw"."orders"`."""
    return ".".join(f'"{part}"' for part in name.split("."))


def _count(conn: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> int:
    import duckdb

    try:
        sql = f"select count(*) from {quoted_table(table)} where {where}"
        return conn.execute(sql).fetchall()[0][0]
    except duckdb.Error as exc:
        raise TableReadError(f"cannot read table {table}: {exc}") from exc


def validate_table(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    suite: SuiteFile | Path | str,
    *,
    backend: str = "auto",
    row_scope: RowScope | None = None,
    docs_dir: Path | None = None,
    run_name: str | None = None,
) -> SuiteResult:
    """Run `suite` on the DuckDB table `<schema>.<table>`; with `row_scope` its row-level
    expectations judge only the scope's rows (the caller decides when that is sound).

    A suite is run with BOOLEAN_ONLY results first, and again with the bad values only when
    something failed. Raises TableReadError, SuiteFormatError, KeyError (unknown backend).
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    if backend not in BACKENDS:
        raise KeyError(f"unknown GX backend {backend!r}; known: {list(BACKENDS)}")
    if not _SUITE_NAME.match(table):
        raise ValueError(f"table must be '<schema>.<table>', got {table!r}")
    started = time.perf_counter()
    suite = suite if isinstance(suite, SuiteFile) else read_suite_file(suite)
    row_count = _count(conn, table)
    variants = [scope_expectation(e, row_scope) if row_scope else None for e in suite.expectations]
    gx_suite = load_suite(
        suite, [v or e for v, e in zip(variants, suite.expectations, strict=True)]
    )
    use_pandas = backend == "pandas" or (backend == "auto" and row_count <= PANDAS_MAX_ROWS)
    parameters = (
        {"dataframe": conn.sql(f"select * from {quoted_table(table)}").df()} if use_pandas else None
    )
    with GX_LOCK:
        context = gx_context(docs_dir)
        batch = _pandas_batch(context, table) if use_pandas else _sql_batch(context, conn, table)
        definition = register(context, gx_suite, batch)
        run_id = RunIdentifier(run_name=run_name)
        result = definition.run(batch_parameters=parameters, result_format=_FAST, run_id=run_id)
        if not result.success:
            result = definition.run(
                batch_parameters=parameters, result_format=_DETAILED, run_id=run_id
            )
    index = {e.id: i for i, e in enumerate(definition.suite.expectations)}
    results = sorted(result.results, key=lambda r: index[r.expectation_config.id])
    outcomes = [
        _outcome(r, str(row_scope) if variants[index[r.expectation_config.id]] else None)
        for r in results
    ]
    result_id = ValidationResultIdentifier(
        ExpectationSuiteIdentifier(suite.name), run_id, result.batch_id
    )
    return SuiteResult(
        suite_name=suite.name,
        table=table,
        backend="pandas" if use_pandas else "sql",
        row_count=row_count,
        outcomes=tuple(outcomes),
        duration_s=round(time.perf_counter() - started, 3),
        row_scope=None if row_scope is None else str(row_scope),
        rows_in_scope=None if row_scope is None else _count(conn, table, row_scope.predicate),
        result_id=result_id,
        gx_result=result,
    )
