"""`cli.event_logs_held`: while a run executes, an idle reader holds its SQLite event log files.

On a SQLite instance the run's file is created up front and both it and the index stay open
(read-only) until the block ends, without changing what Dagster stores; an instance without
per-run files (in memory) is left alone.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.cli import event_logs_held


@dg.op
def one() -> int:
    return 1


@dg.job
def tiny() -> None:
    one()


def open_files() -> set[Path]:
    """The files this process has open."""
    return {fd.resolve() for fd in Path("/proc/self/fd").iterdir() if fd.resolve().is_file()}


def test_a_sqlite_instance_keeps_the_run_and_index_files_open(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run_id = "0f1e2d3c-0000-4000-8000-000000000001"
        path_for_shard = instance.event_log_storage.path_for_shard
        run_db, index_db = Path(path_for_shard(run_id)), Path(path_for_shard("index"))
        with event_logs_held(instance, run_id):
            assert run_db.is_file()
            assert {run_db.resolve(), index_db.resolve()} <= open_files()
            result = tiny.execute_in_process(instance=instance, run_id=run_id)
        assert result.success
        assert run_db.resolve() not in open_files()
        kinds = {e.dagster_event_type for e in instance.all_logs(run_id) if e.is_dagster_event}
        assert dg.DagsterEventType.RUN_SUCCESS in kinds


def test_an_in_memory_instance_is_left_alone() -> None:
    with dg.DagsterInstance.ephemeral() as instance, event_logs_held(instance, "no-such-run"):
        assert instance.all_logs("no-such-run") == []
