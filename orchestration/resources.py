"""The warehouse resource and its pool. Paths come from orchestration/settings.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings

# Every step that writes the working DuckDB file shares this pool: DuckDB has one writer.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB database (not the published copy BI tools read)."""

    path: str

    @property
    def resolved_path(self) -> Path:
        return settings.resolve_path(self.path)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        db = self.resolved_path
        db.parent.mkdir(parents=True, exist_ok=True)
        current = settings.get()  # the settings dbt's profile reads too
        config = {"memory_limit": current.duckdb_memory_limit, "threads": current.duckdb_threads}
        with duckdb.connect(str(db), read_only=read_only, config=config) as conn:
            conn.execute("SET TimeZone = 'UTC'")  # naive timestamps are UTC in the warehouse
            yield conn
