"""Dagster's SQLite event log, made cheap per event for runs over many partitions.

A run that loads a year of landing partitions logs one "materialization planned" and one
materialization event per feed and dt: about 9,500 asset events for 13 feeds x 365 days. The
stock `SqliteEventLogStorage` opens a new SQLAlchemy engine, a new SQLite connection and a
transaction for each event, twice (run shard and cross-run index), and reflects the asset-key
table's columns on each asset event: about 10 ms per event, 60-100 s of a full build doing
nothing but bookkeeping (measured in docs/performance.md).

`FastSqliteEventLogStorage` keeps the same files, tables and semantics and changes three things:

- one engine per shard, kept while the shard is in use (pooled connections; SQLite in WAL mode as
  Dagster already sets it, `synchronous=NORMAL`, which is durable across process crashes and
  loses at most the last transactions on an OS crash: bookkeeping, not warehouse data);
- the asset-key table's column check is answered once per shard, not per event, and whether
  the index has a table (asked on every asset check event) once per table that exists;
- `store_event_batch`, which Dagster calls when `DAGSTER_EVENT_BATCH_SIZE` > 0 for the events of
  one partitioned materialization or one run's planned events (planned materializations and
  planned check evaluations), writes a batch in one transaction per shard instead of one per
  event.

Selected in `$DAGSTER_HOME/dagster.yaml` (written by `orchestration.cli`, see
`ensure_dagster_home`); the webserver and the daemon read the same files with the stock class.
"""

from __future__ import annotations

import os
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as db_exc
from dagster import Field
from dagster._config import StringSource
from dagster._core.events import ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy.engine import Connection

SQLITE_BUSY_TIMEOUT_SECONDS = 30
# Engines kept open per process (least recently used first out): a run process needs two (its
# run shard and the index); a long-lived webserver opens one per run it shows, and must not
# keep a file handle for each of thousands of runs.
MAX_OPEN_SHARDS = 16


def default_event_log_dir() -> str:
    """Where the stock storage keeps its shards: $DAGSTER_HOME/history/runs."""
    return os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")


class FastSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine per shard and batched writes (see module doc)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, sa.engine.Engine] = OrderedDict()
        self._asset_key_index_cols: dict[str, bool] = {}
        self._tables_present: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> FastSqliteEventLogStorage:
        return cls(config_value.get("base_dir") or default_event_log_dir(), inst_data=inst_data)

    def _engine(self, shard: str) -> sa.engine.Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
        else:
            engine = sa.create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            sa.event.listen(engine, "connect", _set_sqlite_pragmas)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > MAX_OPEN_SHARDS:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        # Asked on every asset event; the answer only changes with a schema migration.
        key = str(conn.engine.url)
        if key not in self._asset_key_index_cols:
            self._asset_key_index_cols[key] = super()._has_asset_key_index_cols_on_connection(conn)
        return self._asset_key_index_cols[key]

    def has_table(self, table_name: str) -> bool:
        # Asked on every asset check event (`supports_asset_checks`), each time through a new
        # engine and connection: ~40 % of storing a check evaluation. A table, once created by
        # a migration, stays; only its absence is asked again.
        if table_name not in self._tables_present:
            if not super().has_table(table_name):
                return False
            self._tables_present.add(table_name)
        return True

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """One transaction per shard for a batch of asset events (materializations, planned
        materializations, observations) and planned asset check evaluations (a run's planned
        events come in one batch: ~450 in a pipeline run, one per model and check); anything
        else is stored one by one, as before.

        Each event is serialized once for both shards, and each asset's row of the asset-key
        table is written once per batch with what the batch's last events of it set (the stock
        storage rewrites it per event: the same final row, 365 writes for a year of one feed).
        """
        if not all(_is_batchable(event) for event in events) or not self.supports_asset_checks:
            for event in events:
                self.store_event(event)
            return
        # Serialized once for both shards; one compiled INSERT executed per row or as an
        # executemany (a statement built per row with `.values()` costs more than the write).
        rows = [self._event_to_row(event) for event in events]
        by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event, row in zip(events, rows, strict=True):
            by_run[event.run_id].append(row)
        insert = SqlEventLogStorageTable.insert()
        for run_id, run_rows in by_run.items():
            with self.run_connection(run_id) as conn:
                conn.execute(insert, run_rows)
        # Mirrored into the cross-run index like store_event does, in one transaction.
        with self.index_transaction() as conn:
            by_asset: dict[str, list[tuple[EventLogEntry, int]]] = defaultdict(list)
            tagged: list[tuple[EventLogEntry, int]] = []
            checks_planned: list[dict[str, Any]] = []
            for event, row in zip(events, rows, strict=True):
                event_id = conn.execute(insert, row).inserted_primary_key[0]
                if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
                    checks_planned += self._check_planned_rows(event, event_id)
                else:
                    tagged.append((event, event_id))
                    if event.get_dagster_event().asset_key:
                        by_asset[row["asset_key"]].append((event, event_id))
            if checks_planned:
                conn.execute(AssetCheckExecutionsTable.insert(), checks_planned)
            if tagged:
                self._store_asset_event_tags(
                    conn, [event for event, _ in tagged], [event_id for _, event_id in tagged]
                )
            for asset_key, asset_events in by_asset.items():
                self._store_asset_entry(conn, asset_key, asset_events)

    def _store_asset_entry(
        self, conn: Connection, asset_key: str, events: Sequence[tuple[EventLogEntry, int]]
    ) -> None:
        """The asset-key row as `_store_asset_event` leaves it after `events`, in one write:
        each column holds the value of the last event that sets it."""
        index_cols = self._has_asset_key_index_cols_on_connection(conn)
        values: dict[str, Any] = {}
        for event, event_id in reversed(events):
            if (
                event.get_dagster_event().is_step_materialization
                and "last_materialization" in values
            ):
                continue  # an older materialization: everything it sets is set by a newer one
            for column, value in self._get_asset_entry_values(event, event_id, index_cols).items():
                values.setdefault(column, value)
        if not values:
            return
        try:
            conn.execute(AssetKeyTable.insert().values(asset_key=asset_key, **values))
        except db_exc.IntegrityError:
            conn.execute(
                AssetKeyTable.update()
                .values(**values)
                .where(AssetKeyTable.c.asset_key == asset_key)
            )

    def _check_planned_rows(self, event: EventLogEntry, event_id: int) -> list[dict[str, Any]]:
        """The asset_check_executions rows of a planned check evaluation: what the stock
        `_store_asset_check_evaluation_planned` inserts, for the batch's connection (the stock
        method opens a connection of its own)."""
        planned = event.get_dagster_event().asset_check_planned_data
        subset = planned.partitions_subset
        return [
            dict(
                asset_key=planned.asset_key.to_string(),
                check_name=planned.check_name,
                partition=partition_key,
                run_id=event.run_id,
                execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                evaluation_event=serialize_value(event),
                evaluation_event_timestamp=self._event_insert_timestamp(event),
                evaluation_event_storage_id=event_id,
            )
            for partition_key in (subset.get_partition_keys() if subset else [None])
        ]

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()


def _is_batchable(event: EventLogEntry) -> bool:
    return bool(
        event.is_dagster_event
        and (
            event.dagster_event_type in ASSET_EVENTS
            or event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
        )
    )


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
