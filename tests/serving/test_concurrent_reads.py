"""BI readers during publishes: 8 reader processes open serving.duckdb read-only, again and again,
while the pipeline's publish swaps in at least 20 new versions.

Each read, in one connection, takes the newest version of `marts._publish_log` and counts every
mart. Zero reader errors are allowed, and every read must see one publish whole: its counts equal
that version's log row, and equal what the publish of that version reported. The publishes run on
a copy of the session sample run's warehouse (all 29 real marts); between publishes a row is added
to one mart and removed from another, so every version has different counts.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

if TYPE_CHECKING:
    from conftest import SampleRun

pytestmark = pytest.mark.slow

READERS = 8
PUBLISHES = 20
DEADLINE_SECONDS = 240


def read_loop(database: str, marts: list[str], stop, results) -> None:
    """One reader process: read until `stop`, report (reads, errors, {version: counts})."""
    reads = 0
    errors: list[str] = []
    seen: dict[int, dict[str, int]] = {}
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            conn = duckdb.connect(database, read_only=True)
            try:
                version, logged = conn.execute(
                    "SELECT version, CAST(row_counts AS VARCHAR) FROM marts._publish_log "
                    "ORDER BY version DESC LIMIT 1"
                ).fetchone()
                counts = {
                    m: conn.execute(f'SELECT count(*) FROM marts."{m}"').fetchone()[0]
                    for m in marts
                }
            finally:
                conn.close()
            reads += 1
            if counts != json.loads(logged):
                errors.append(f"version {version}: counts {counts} != its log {logged}")
            elif seen.setdefault(version, counts) != counts:
                errors.append(f"version {version} read with two different counts")
        except Exception as exc:  # every failure of a reader is a finding, not a crash
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((reads, errors[:20], len(errors), seen))


def test_readers_always_see_one_whole_publish(sample_run: SampleRun, tmp_path: Path) -> None:
    from orchestration.assets.publish import write_serving_copy

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_run.warehouse, warehouse)
    serving_dir = tmp_path / "serving"
    database = serving_dir / "serving.duckdb"
    conn = duckdb.connect(str(warehouse))
    try:
        marts = sorted(
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchall()
        )
        assert len(marts) >= 29
        published = {}
        first = write_serving_copy(conn, serving_dir, "run-0", marts)
        published[first.version] = first.row_counts

        ctx = mp.get_context("spawn")
        stop = ctx.Event()
        results = ctx.Queue()
        readers = [
            ctx.Process(target=read_loop, args=(str(database), marts, stop, results))
            for _ in range(READERS)
        ]
        for reader in readers:
            reader.start()
        time.sleep(3)  # let the readers import duckdb and start reading
        started = time.monotonic()
        try:
            for i in range(1, PUBLISHES + 1):
                conn.execute(
                    "INSERT INTO marts.daily_sales SELECT * FROM marts.daily_sales LIMIT 1"
                )
                conn.execute(
                    "DELETE FROM marts.product_ratings "
                    "WHERE rowid = (SELECT min(rowid) FROM marts.product_ratings)"
                )
                result = write_serving_copy(conn, serving_dir, f"run-{i}", marts)
                published[result.version] = result.row_counts
        finally:
            publish_seconds = time.monotonic() - started
            time.sleep(1)
            stop.set()
            outcomes = [results.get(timeout=DEADLINE_SECONDS + 60) for _ in readers]
            for reader in readers:
                reader.join(timeout=60)
    finally:
        conn.close()

    reads = sum(o[0] for o in outcomes)
    errors = [e for o in outcomes for e in o[1]]
    error_count = sum(o[2] for o in outcomes)
    seen: dict[int, dict[str, int]] = {}
    for outcome in outcomes:
        for version, counts in outcome[3].items():
            assert seen.setdefault(version, counts) == counts, version
    print(
        f"\n{READERS} readers: {reads} reads, {error_count} errors, {len(seen)} versions seen; "
        f"{len(published) - 1} publishes in {publish_seconds:.1f} s"
    )
    assert error_count == 0, errors
    assert len(published) == PUBLISHES + 1 >= 21
    assert len({json.dumps(c, sort_keys=True) for c in published.values()}) == len(published)
    assert all(o[0] > 0 for o in outcomes)  # every reader read
    assert len(seen) > 1  # the reads overlapped the publishes
    for version, counts in seen.items():
        assert counts == published[version], version
    assert all(not r.is_alive() and r.exitcode == 0 for r in readers)
