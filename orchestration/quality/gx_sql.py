"""GX's SQL execution engine over DuckDB: the `sql` backend of `gx_validation`.

GX pushes each expectation's metrics down as SQL, so nothing but aggregates and a few sample
rows leave DuckDB. Two defects stop GX's SQL datasource from working on duckdb-engine 0.17 with
DuckDB 2.x, and the `duckdb+buffered://` dialect below works around both:

1. Empty results (GX issues #10738, #11579). GX runs a query inside `with engine.connect()`
   and calls `fetchall()` after the block; returning the connection to the pool rolls back on
   the same DuckDB connection, which discards the pending result, so every metric is `[]`.
   Our execution context fetches a row-returning statement's rows right after it executes
   (SQLAlchemy's `FullyBufferedCursorFetchStrategy`, made for this situation).
2. Column reflection. duckdb-engine's inspector queries `pg_catalog.pg_collation`, which DuckDB
   2.x does not have; GX then falls back to `SELECT * FROM <table> LIMIT 1` without the schema
   and fails. Our dialect answers `get_columns` from `duckdb_columns()`.

The engine does not open the database file itself: its connections are cursors of the DuckDB
connection the caller holds (`active_connection`), so the validation shares that connection's
database instance and settings, and DuckDB's one-writer lock is never contended. Each
connection's default schema is the suite's schema, because GX's table asset drops the schema
from some of its queries (`schema_name` is deprecated in GX 1.14 in favour of "the schema in
your datasource's connection configuration").
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from duckdb_engine import Dialect as DuckDBDialect
from sqlalchemy.dialects import registry
from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy
from sqlalchemy.sql import sqltypes

DIALECT_URL = "duckdb+buffered:///:memory:"  # the database comes from `creator`, not the URL

_ACTIVE: contextvars.ContextVar[duckdb.DuckDBPyConnection] = contextvars.ContextVar(
    "gx_sql_active_duckdb_connection"
)


class BufferedExecutionContext(DuckDBDialect.execution_ctx_cls):  # type: ignore[name-defined,misc]
    """Reads a statement's rows as soon as it has run, before the connection can be reset."""

    def post_exec(self) -> None:
        super().post_exec()
        if self.cursor.description is not None:  # a row-returning statement
            self.cursor_fetch_strategy = FullyBufferedCursorFetchStrategy(
                self.cursor, self.cursor.description, self.cursor.fetchall()
            )


class BufferedDuckDBDialect(DuckDBDialect):
    """duckdb-engine with buffered results and column reflection that works on DuckDB 2.x."""

    execution_ctx_cls = BufferedExecutionContext
    supports_statement_cache = False  # as duckdb-engine

    def get_columns(  # type: ignore[override]
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        rows = connection.execute(
            sa.text(
                "select column_name, data_type, is_nullable from duckdb_columns() "
                "where database_name = current_database() "
                "and schema_name = coalesce(:schema, current_schema()) "
                "and table_name = :table order by column_index"
            ),
            {"schema": schema, "table": str(table_name)},
        ).fetchall()
        if not rows:
            raise sa.exc.NoSuchTableError(table_name)
        return [
            {
                "name": name,
                # DECIMAL(18,2) -> decimal; GX only needs the type family.
                "type": self.ischema_names.get(
                    data_type.split("(")[0].lower(), sqltypes.NullType
                )(),
                "nullable": bool(nullable),
                "default": None,
            }
            for name, data_type, nullable in rows
        ]


registry.register("duckdb.buffered", __name__, "BufferedDuckDBDialect")


@contextmanager
def active_connection(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Make `conn` the database of every `duckdb+buffered` engine within the block."""
    token = _ACTIVE.set(conn)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _connect(schema: str) -> ConnectionWrapper:
    try:
        conn = _ACTIVE.get()
    except LookupError:
        raise RuntimeError("gx_sql engines need an active_connection(conn) block") from None
    cursor = conn.cursor()  # a new connection to the same database instance
    cursor.execute(f"SET schema = '{schema}'")  # schema is a checked identifier
    return ConnectionWrapper(cursor)


def engine_kwargs(schema: str) -> dict[str, Any]:
    """`create_engine` kwargs for a GX SQL datasource whose default schema is `schema`.

    NullPool: a pooled cursor would outlive the caller's connection.
    """
    return {"creator": functools.partial(_connect, schema), "poolclass": sa.pool.NullPool}
