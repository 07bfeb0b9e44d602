"""Great Expectations suites (`expectations/<schema>.<table>.json`) run on DuckDB tables.

`validate_table` runs a suite (each expectation `meta.severity` critical or warning) as a GX
`ValidationDefinition`, its row-level expectations limited to a `RowScope`'s days if given.
`build_docs` renders GX's Data Docs, offline.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
import shutil
import threading
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse
from urllib.request import url2pathname

if TYPE_CHECKING:
    import duckdb
    from great_expectations.data_context import AbstractDataContext

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")
PANDAS_MAX_ROWS = 15_000  # `auto`: GX's pandas engine is the faster one on small tables
MAX_VALUES = 20  # bad values reported per expectation (GX's partial_unexpected_count)
PARTITION = "_partition_dt"  # the raw tables' delivery date (orchestration.contract)
SITE, RESULTS = "local_site", ".results"  # the Data Docs site; GX's results in the docs dir
MAX_RESULTS = 200  # validation results kept in the docs dir (and pages in the site)
VENDOR_DIR = Path(__file__).parent / "docs_static"  # CDN files, at their URL's path
GX_LOCK = threading.RLock()  # GX's context and stores are not thread-safe
_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_KEYS = {"type", "kwargs", "meta", "notes", "description", "severity", "id"}
_CDN_URL = re.compile(r'(src|href)="https://([^"]+)"')
_GX_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+/[^\"')]*")
_SRI = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')  # a file:// page cannot check them


@dataclass(frozen=True)
class SuiteFile:
    """A checked suite file; reading one does not import GX."""

    path: Path
    name: str  # `<schema>.<table>`: the table, the asset key and the file name
    expectations: tuple[dict[str, Any], ...]

    def count(self, severity: Severity) -> int:
        return sum(1 for e in self.expectations if e["meta"]["severity"] == severity)

    @functools.cached_property
    def digest(self) -> str:
        """A hash of the expectations: a changed suite has not judged the old rows."""
        text = json.dumps(self.expectations, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _problem(raw: Any, stem: str) -> str | None:
    if not isinstance(raw, dict) or raw.get("name") != stem or not _NAME.match(stem):
        return f"must be an object whose 'name' is '<schema>.<table>', the file name {stem!r}"
    if not isinstance(raw.get("expectations"), list) or not raw["expectations"]:
        return "'expectations' must be a non-empty list"
    for i, exp in enumerate(raw["expectations"]):
        where = f"expectations[{i}] ({exp.get('type') if isinstance(exp, dict) else exp})"
        if not isinstance(exp, dict) or set(exp) - _KEYS or not isinstance(exp.get("kwargs"), dict):
            return f"{where} needs 'type' and 'kwargs', and no keys but {sorted(_KEYS)}"
        if (exp.get("meta") or {}).get("severity") not in SEVERITIES:
            return f"{where} needs meta.severity in {list(SEVERITIES)}"
    return None


def read_suite_file(path: Path | str) -> SuiteFile:
    """Read a suite file and check its format; the ValueError names the file and problem."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"expectation suite {path} is not valid JSON: {exc}") from exc
    if problem := _problem(raw, path.stem):
        raise ValueError(f"expectation suite {path}: {problem}")
    return SuiteFile(path, path.stem, tuple(raw["expectations"]))


def discover_suite_files(suite_dir: Path | str) -> list[SuiteFile]:
    return [read_suite_file(p) for p in sorted(Path(suite_dir).glob("*.json"))]


def load_suite(suite: SuiteFile) -> Any:
    """The GX suite, each expectation built alone: GX's suite drops one it cannot build."""
    import great_expectations as gx
    from great_expectations.expectations import expectation_configuration as ec

    built = []
    for index, exp in enumerate(suite.expectations):
        try:
            built.append(ec.ExpectationConfiguration(**exp).to_domain_obj())
        except Exception as exc:
            where = f"expectations[{index}] ({exp['type']})"
            raise ValueError(f"expectation suite {suite.path}: {where}: {exc}") from exc
    return gx.ExpectationSuite(name=suite.name, expectations=built)


def is_row_level(exp_type: str, kwargs: dict[str, Any]) -> bool:
    """Whether a table passes the expectation exactly when each of its partitions does: the
    column(-pair) values ones but unique/monotonic, and a unique key holding the partition."""
    if exp_type.endswith("_unique") and "column_list" in kwargs:
        return PARTITION in kwargs["column_list"]
    if exp_type.rsplit("_", 1)[1] in ("unique", "increasing", "decreasing"):
        return False
    return exp_type.startswith(("expect_column_values_", "expect_column_pair_values_"))


@dataclass(frozen=True)
class RowScope:
    """The days, `first` to `last`, whose rows the row-level expectations judge."""

    first: date
    last: date

    def __str__(self) -> str:
        return f"dt {self.first}..{self.last}"

    @property
    def predicate(self) -> str:
        return f"{PARTITION} BETWEEN DATE '{self.first}' AND DATE '{self.last}'"

    def limit(self, exp: dict[str, Any]) -> dict[str, Any] | None:
        """`exp` judging only the scope's rows, or None when it judges every row (table-level,
        or its own condition is a string or an OR, which cannot be joined with AND)."""
        from great_expectations.expectations import row_conditions as rc

        own = rc.deserialize_row_condition(exp["kwargs"].get("row_condition"))
        if not is_row_level(exp["type"], exp["kwargs"]) or isinstance(own, str | rc.OrCondition):
            return None
        scope = (rc.Column(PARTITION) >= str(self.first)) & (rc.Column(PARTITION) <= str(self.last))
        return {**exp, "kwargs": {**exp["kwargs"], "row_condition": scope & own if own else scope}}


def _message(info: Any) -> str | None:
    """The first message of GX's exception_info (flat, or keyed by metric)."""
    if not isinstance(info, dict) or info.get("raised_exception") is False:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "raised")
    return next(filter(None, map(_message, info.values())), None)


def _outcome(result: Any, rows: str | None) -> dict[str, Any]:
    """One GX result as JSON: failed if GX raised (`error`), distinct bad `values`, `rows`."""
    data = result.to_json_dict()
    config, found = data["expectation_config"], data["result"]
    error = _message(data["exception_info"])
    kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
    pair = [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    column = kwargs.get("column") or ", ".join(kwargs.get("column_list") or pair)
    values: list[Any] = []
    for value in found.get("partial_unexpected_list") or []:
        values += [] if value in values else [value]  # uniqueness failures repeat values
    return {
        "label": f"{config['type']}({column})" if column else config["type"],
        "severity": config["meta"]["severity"],
        "success": bool(data["success"]) and error is None,
        "unexpected_count": found.get("unexpected_count"),
        "values": values[:MAX_VALUES],
        "observed": found.get("observed_value"),
        "error": error,
        "rows": rows,
        "kwargs": kwargs,
    }


@dataclass(frozen=True)
class SuiteResult:
    """A suite run on a table; `result_id` names GX's stored result (and Data Docs page)."""

    backend: str
    row_count: int
    outcomes: list[dict[str, Any]]  # `_outcome`s, in the suite's order
    duration_s: float
    rows_in_scope: int  # the rows the row-level expectations judged
    row_scope: str | None
    result_id: Any

    def failed(self, severity: Severity | None = None) -> list[dict[str, Any]]:
        return [o for o in self.outcomes if not o["success"] and severity in (None, o["severity"])]


@functools.cache
def gx_context(docs_dir: Path | None = None) -> AbstractDataContext:
    """The process's ephemeral GX context; with `docs_dir`, its results and Data Docs site there."""
    import great_expectations as gx
    from great_expectations.data_context.types import base

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    defaults, sites = base.InMemoryStoreBackendDefaults(), {}
    if docs_dir is not None:
        files = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)}
        store = defaults.stores[defaults.validation_results_store_name]
        store["store_backend"] = {**files, "base_directory": str(docs_dir / RESULTS)}
        sites[SITE] = {"class_name": "SiteBuilder", "store_backend": files}
        sites[SITE] |= {"site_section_builders": {"expectations": "None", "profiling": "None"}}
    config = base.DataContextConfig(
        store_backend_defaults=defaults,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=base.ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _buffer_rows(conn: Any, cursor: Any, statement: Any, params: Any, ctx: Any, _: Any) -> None:
    """Fetch a query's rows as soon as it ran: GX reads them after closing its connection, and
    the rollback of the close drops them in DuckDB (GX issues #10738, #11579)."""
    from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy as Buffered

    if cursor.description is not None:
        ctx.cursor_fetch_strategy = Buffered(cursor, cursor.description, cursor.fetchall())


def _definition(context: AbstractDataContext, conn: Any, suite: SuiteFile, pandas: bool) -> Any:
    """A new validation definition of `suite` (the old one deleted: faster than `add_or_update`)
    on a DataFrame asset, or a SQL table asset over cursors of `conn` (no second writer)."""
    import great_expectations as gx
    import sqlalchemy as sa
    from duckdb_engine import ConnectionWrapper
    from great_expectations.exceptions import DataContextError

    gx_suite = load_suite(suite)
    for factory in (context.validation_definitions, context.suites):
        with contextlib.suppress(DataContextError):
            factory.delete(suite.name)
    schema, name = suite.name.split(".")
    if pandas:
        source = context.data_sources.add_or_update_pandas(f"pandas_{suite.name}")
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    else:
        connect = lambda: ConnectionWrapper(conn.cursor().execute(f"SET schema = '{schema}'"))  # noqa: E731
        kwargs = {"creator": connect, "poolclass": sa.pool.NullPool}
        source = context.data_sources.add_or_update_sql(
            suite.name, connection_string="duckdb:///:memory:", kwargs=kwargs
        )
        sa.event.listen(source.get_execution_engine().engine, "after_cursor_execute", _buffer_rows)
        asset = source.add_table_asset(name, table_name=name)
        batch = asset.add_batch_definition_whole_table("all")
    gx_suite = context.suites.add(gx_suite)
    definition = gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
    return context.validation_definitions.add(definition)


def validate_table(
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    *,
    backend: str = "auto",
    row_scope: RowScope | None = None,
    docs_dir: Path | None = None,
    run_name: str | None = None,
) -> SuiteResult:
    """Run a suite on its table (`backend`: auto, pandas or sql) with BOOLEAN_ONLY results, and
    again with the bad values if something failed; duckdb.Error if the table cannot be read."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types import resource_identifiers as ids

    started, where = time.perf_counter(), row_scope.predicate if row_scope else "true"
    table = conn.table(suite.name)
    ((rows, in_scope),) = table.aggregate(f"count(*), count(*) filter ({where})").fetchall()
    limited = [row_scope.limit(e) if row_scope else None for e in suite.expectations]
    variant = tuple(s or e for s, e in zip(limited, suite.expectations, strict=True))
    pandas = backend == "pandas" or (backend == "auto" and rows <= PANDAS_MAX_ROWS)
    frame = {"dataframe": table.df()} if pandas else None
    with GX_LOCK:
        context = gx_context(docs_dir)
        definition = _definition(context, conn, replace(suite, expectations=variant), pandas)
        run_id = RunIdentifier(run_name=run_name)
        for fmt in ("BOOLEAN_ONLY", {"result_format": "BASIC", "partial_unexpected_count": 20}):
            result = definition.run(batch_parameters=frame, result_format=fmt, run_id=run_id)
            if result.success:
                break
    by_id = {r.expectation_config.id: r for r in result.results}
    scope = row_scope and str(row_scope)
    expectations = zip(definition.suite.expectations, limited, strict=True)
    return SuiteResult(
        backend="pandas" if pandas else "sql",
        row_count=rows,
        outcomes=[_outcome(by_id[e.id], scoped and scope) for e, scoped in expectations],
        duration_s=round(time.perf_counter() - started, 3),
        rows_in_scope=in_scope,
        row_scope=scope,
        result_id=ids.ValidationResultIdentifier(
            ids.ExpectationSuiteIdentifier(suite.name), run_id, result.batch_id
        ),
    )


def offline_html(html: str, static: str) -> str:
    """`html` loading the vendored files and the local logo from `static/` at URL `static`."""

    def local(match: re.Match[str]) -> str:
        path = match[2] if Path(match[2]).suffix else f"{match[2]}.js"
        vendored = (VENDOR_DIR / path).is_file()
        return f'{match[1]}="{static}vendor/{path}"' if vendored else match[0]

    return _SRI.sub("", _GX_LOGO.sub(f"{static}images/logo-long.png", _CDN_URL.sub(local, html)))


def page_path(docs_dir: Path, result_id: Any) -> Path:
    """Where `build_docs` writes the page of a validation result."""
    with GX_LOCK:
        (url,) = gx_context(docs_dir).get_docs_sites_urls(
            resource_identifier=result_id, site_name=SITE, only_if_exists=False
        )
    return Path(url2pathname(urlparse(url["site_url"]).path))


def build_docs(docs_dir: Path, run_name: str) -> None:
    """Render a run's validation pages and the index (newest MAX_RESULTS), all offline."""
    with GX_LOCK:
        context = gx_context(docs_dir)
        store = context.validation_results_store
        keys = sorted(store.list_keys(), key=lambda key: key.run_id.run_time, reverse=True)
        for key in keys[MAX_RESULTS:]:
            store.remove_key(key)
        run = [key for key in keys[:MAX_RESULTS] if key.run_id.run_name == run_name]
        if not run:  # no resource identifiers would render every page
            return
        context.build_data_docs(site_names=[SITE], resource_identifiers=run)
        shutil.copytree(VENDOR_DIR, docs_dir / "static" / "vendor", dirs_exist_ok=True)
        for page in [docs_dir / "index.html", *(page_path(docs_dir, key) for key in run)]:
            static = "../" * (len(page.relative_to(docs_dir).parts) - 1) + "static/"
            page.write_text(offline_html(page.read_text("utf-8"), static), "utf-8")
