"""A published serving.duckdb opens in the oldest DuckDB client we support: 1.0.0.

The publish writes `STORAGE_VERSION 'v1.0.0'`. This test installs `duckdb==1.0.0` into a separate
venv (once per test session, under the session's tmp dir), publishes the real marts of the
session's sample run, and in a subprocess of that venv opens the file read-only and reads every
mart's row count, a DECIMAL and a DATE aggregate per mart that has them, and the publish log. The
answers must equal those of the DuckDB the pipeline uses. No registry: the test is skipped with
the reason, never passed; under CI (which has the registry) it fails instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import SampleRun, skip_or_fail

from orchestration.assets.publish import SERVING_STORAGE_VERSION, write_serving_copy

pytestmark = pytest.mark.slow

OLD_DUCKDB = "1.0.0"

# Run by the old client: argv[1] the database, argv[2] JSON {mart: [sql, ...]}; prints JSON.
OLD_CLIENT_SCRIPT = """
import json, sys
import duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
queries = json.loads(sys.argv[2])
out = {"duckdb_version": duckdb.__version__, "answers": {}}
for name, sql in queries.items():
    out["answers"][name] = [str(v) for v in conn.execute(sql).fetchone()]
conn.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def old_duckdb_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.getbasetemp() / f"venv-duckdb-{OLD_DUCKDB}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        try:
            proc = subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 f"duckdb=={OLD_DUCKDB}"],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            shutil.rmtree(venv, ignore_errors=True)
            skip_or_fail(f"pip install duckdb=={OLD_DUCKDB} timed out (no package registry?)")
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            skip_or_fail(
                f"cannot install duckdb=={OLD_DUCKDB} from the package registry: "
                + (proc.stderr.strip().splitlines() or ["no output"])[-1]
            )
    return python


def _queries(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per mart: its count, plus sum of its first DECIMAL and min/max of its first DATE column."""
    columns = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'marts' ORDER BY table_name, ordinal_position"
    ).fetchall()
    queries: dict[str, str] = {}
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in columns:
        by_table.setdefault(table, []).append((column, data_type))
    for table, cols in by_table.items():
        if table == "_publish_log":
            continue
        queries[f"{table}:count"] = f'SELECT count(*) FROM marts."{table}"'
        decimal = next((c for c, t in cols if t.startswith("DECIMAL")), None)
        if decimal:
            queries[f"{table}:{decimal}"] = f'SELECT sum("{decimal}") FROM marts."{table}"'
        day = next((c for c, t in cols if t == "DATE"), None)
        if day:
            queries[f"{table}:{day}"] = f'SELECT min("{day}"), max("{day}") FROM marts."{table}"'
    queries["_publish_log"] = (
        "SELECT max(version), count(*), max(storage_version), "
        "CAST(max(row_counts) AS VARCHAR) FROM marts._publish_log"
    )
    return queries


def test_a_publish_opens_in_duckdb_1_0_0(
    sample_run: SampleRun, old_duckdb_python: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_run.warehouse, warehouse)
    conn = duckdb.connect(str(warehouse))
    try:
        marts = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchall()
        ]
        result = write_serving_copy(conn, tmp_path / "serving", "old-client-run", marts)
    finally:
        conn.close()
    assert len(marts) >= 29

    new = duckdb.connect(str(result.path), read_only=True)
    try:
        queries = _queries(new)
        expected = {
            name: [str(v) for v in new.execute(sql).fetchone()] for name, sql in queries.items()
        }
    finally:
        new.close()
    decimals = [q for q, sql in queries.items() if sql.startswith("SELECT sum(")]
    dates = [q for q, sql in queries.items() if sql.startswith("SELECT min(")]
    assert decimals and dates, queries

    proc = subprocess.run(
        [str(old_duckdb_python), "-c", OLD_CLIENT_SCRIPT, str(result.path), json.dumps(queries)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    old = json.loads(proc.stdout)
    assert old["duckdb_version"] == OLD_DUCKDB
    assert old["answers"] == expected
    assert expected["_publish_log"][:3] == ["1", "1", SERVING_STORAGE_VERSION]
    counts = json.loads(expected["_publish_log"][3])
    assert {m: str(n) for m, n in counts.items()} == {m: expected[f"{m}:count"][0] for m in marts}
