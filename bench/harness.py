"""`make bench SCALE=S` (`python -m bench.harness`): what every stage costs at a scale factor.

One run: generate the sample (reused when the same seed/scale/days is there), a full build in a
fresh warehouse, a one-day incremental build, a plain read of the full build's files into tables
(ingest's yardstick) and the floor (bench/floor.sql: daily_sales and daily_traffic by hand from
the landing files). Writes bench/results/sf<scale>.json (`-d<days>` added when not 365 days): the
latest run, overwritten by the next (git keeps the earlier ones; the date and commit are inside).

Every pipeline run is a subprocess (`python -m orchestration.cli pipeline --report-json`) with
its own DAGSTER_HOME, warehouse and serving folder in the bench folder. Peak RSS is the sampled
sum over the subprocess tree; the kernel's `ru_maxrss` (largest single process) is beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestration import contract, settings
from orchestration.contract import Feed
from orchestration.ingest.landing import LandingFile, discover_feed_files, reader_path
from orchestration.ingest.loader import CSV_OPTIONS, ident, sql_str

BENCH_DIR = settings.REPO_ROOT / "bench"
FLOOR_SQL = BENCH_DIR / "floor.sql"
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_WORK_DIR = "data/bench"
# 3: `plain_read` (ingest's yardstick) and `start` added to version 2 (`commit`, `dirty`).
SCHEMA_VERSION = 3
DEFAULT_DAYS = 365
GROWTH_LIMIT = 11.0  # a stage may grow at most this much from SF0.1 to SF1 (10x the rows)
# Mart columns the floor computes; each must equal the mart's on every day.
FLOOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "daily_sales": (
        "orders_placed",
        "gmv",
        "paid_orders",
        "paid_revenue",
        "units_sold",
        "buyers",
        "refunds",
    ),
    "daily_traffic": (
        "page_views",
        "unique_visitors",
        "sessions",
        "bounced_sessions",
        "converted_sessions",
    ),
}


def _say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------- measurement


@dataclass
class Stage:
    """One row of the result table."""

    name: str
    seconds: float
    rows: int | None = None
    kind: str = ""  # generate, ingest, dbt_model, dbt_tests, gx, publish, overhead, total, floor

    @property
    def rows_per_s(self) -> float | None:
        if self.rows is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds

    def to_json(self) -> dict[str, Any]:
        rps = self.rows_per_s
        return {
            "name": self.name,
            "kind": self.kind,
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "rows_per_s": round(rps) if rps is not None else None,
        }


@dataclass
class Measured:
    """A subprocess's wall time, exit code and memory."""

    seconds: float
    returncode: int
    peak_rss_tree_bytes: int  # sampled sum over the process and its descendants
    max_rss_single_bytes: int  # ru_maxrss of the largest process (kernel figure)
    cpu_seconds: float = 0.0  # user + system time of the process and its waited-for children
    ended_at: float = 0.0  # time.time() at the end
    peak_at_seconds: float = 0.0  # when the sampled peak was seen, from the start
    peak_processes: dict[str, int] = field(default_factory=dict)  # "pid command" -> RSS at peak
    output_tail: str = ""


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may contain spaces and parentheses, split after the last ")"
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> dict[int, int]:
    """Resident memory of `root` and each of its descendants, in bytes, by pid."""
    children = _children_map()
    out: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        out[pid] = _rss_bytes(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants, in bytes."""
    return sum(tree_rss(root).values())


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            parts = handle.read().split(b"\0")
    except OSError:
        return "?"
    words = [Path(w.decode(errors="replace")).name for w in parts[:4] if w]
    return " ".join(words)[:80]


def run_measured(
    cmd: list[str],
    env: dict[str, str],
    log: Path,
    interval: float = 0.2,
    cwd: Path | None = None,
) -> Measured:
    """Run `cmd` (in `cwd`, by default the current folder), output to `log`; sample the process
    tree's RSS every `interval` seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak, peak_at, peak_by_pid = 0, 0.0, {}
    timeline = log.with_suffix(".rss.csv")
    started = time.perf_counter()
    with log.open("wb") as out, timeline.open("w") as series:
        series.write("seconds,rss_bytes\n")
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, peak_at, peak_by_pid
            while not done.is_set():
                by_pid = tree_rss(proc.pid)
                total, now = sum(by_pid.values()), time.perf_counter() - started
                series.write(f"{now:.2f},{total}\n")
                if total > peak:
                    peak, peak_at = total, now
                    peak_by_pid = {f"{pid} {_command(pid)}": rss for pid, rss in by_pid.items()}
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    return Measured(
        seconds=seconds,
        returncode=proc.returncode,
        peak_rss_tree_bytes=peak,
        max_rss_single_bytes=usage.ru_maxrss * 1024,  # Linux: KiB
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_at_seconds=peak_at,
        ended_at=time.time(),
        peak_processes=peak_by_pid,
        output_tail=tail,
    )


# ------------------------------------------------------------------------------- the stages


def scale_label(scale: float, days: int = DEFAULT_DAYS) -> str:
    """0.01 -> 'sf0.01', 1.0 -> 'sf1'; (0.01, 3000) -> 'sf0.01-d3000'."""
    return f"sf{scale:g}" + (f"-d{days}" if days != DEFAULT_DAYS else "")


def dbt_business_vars() -> dict[str, Any]:
    """The dbt vars the floor needs, with the DBT_VARS overrides the pipeline applies."""
    merged = {**settings.dbt_project_vars(), **settings.get().all_dbt_vars}
    return {
        "business_timezone": merged["business_timezone"],
        "session_timeout_minutes": int(merged["session_timeout_minutes"]),
    }


def floor_sql(landing: Path, business_vars: dict[str, Any]) -> str:
    """bench/floor.sql with its placeholders filled in."""
    sql = FLOOR_SQL.read_text()
    values = {"landing": str(landing.resolve()), **{k: str(v) for k, v in business_vars.items()}}
    for name, value in values.items():
        sql = sql.replace("{" + name + "}", value.replace("'", "''"))
    return sql


def fresh_database(database: Path) -> Any:
    """A new DuckDB file with the pipeline's memory limit and threads."""
    import duckdb

    database.unlink(missing_ok=True)
    config = {
        "memory_limit": settings.get().duckdb_memory_limit,
        "threads": settings.get().duckdb_threads,
    }
    return duckdb.connect(str(database), config=config)


def run_floor(landing: Path, database: Path) -> None:
    """Execute the floor into `database` (tables floor_daily_sales, floor_daily_traffic)."""
    conn = fresh_database(database)
    try:
        conn.execute(floor_sql(landing, dbt_business_vars()))
    finally:
        conn.close()


def plain_read_sql(feed: Feed, files: list[LandingFile]) -> str:
    """The files read as the loader reads them (its readers and CSV options; contract columns as
    text, parquet as stored), without its checks, types, lineage and dedupe: one per format."""
    columns = "{" + ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in feed.columns) + "}"
    selects = []
    for fmt in sorted({f.fmt for f in files}):
        paths = "[" + ", ".join(sql_str(reader_path(f.path)) for f in files if f.fmt == fmt) + "]"
        if fmt == "parquet":
            reader = f"read_parquet({paths})"
        elif fmt == "csv":
            reader = f"read_csv({paths}, {CSV_OPTIONS}, columns={columns})"
        else:
            reader = f"read_json({paths}, format='newline_delimited', columns={columns})"
        selects.append(f"SELECT * FROM {reader}")
    return " UNION ALL BY NAME ".join(selects)


def plain_read(landing: Path, database: Path, last_dt: str) -> dict[str, dict[str, Any]]:
    """Each feed's files of partitions up to `last_dt` into a table of a fresh `database` (then
    deleted), one timed `CREATE TABLE AS` per feed: what DuckDB alone takes to read them."""
    conn, out = fresh_database(database), {}
    try:
        for feed in contract.FEEDS.values():
            files = discover_feed_files(landing, feed.name)
            files = [f for f in files if f.partition_dt.isoformat() <= last_dt]
            if not files:
                continue
            started = time.perf_counter()
            create = f"CREATE TABLE {ident(feed.name)} AS {plain_read_sql(feed, files)}"
            (rows,) = conn.execute(create).fetchone()
            seconds = round(time.perf_counter() - started, 3)
            out[feed.name] = {"files": len(files), "rows": rows, "seconds": seconds}
    finally:
        conn.close()
        for path in (database, database.with_name(database.name + ".wal")):
            path.unlink(missing_ok=True)
    return out


def ingest_vs_plain(
    stages: list[dict[str, Any]], plain: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The plain read beside the full build's ingest stages: seconds and ingest / plain read,
    per feed and in total."""
    ingest = {s["name"].removeprefix("ingest "): s for s in stages if s["kind"] == "ingest"}
    feeds = {}
    for feed, read in plain.items():
        stage = ingest.get(feed, {})
        seconds = stage.get("seconds")
        feeds[feed] = {
            **read,
            "ingest_rows": stage.get("rows"),  # rows read: equal to `rows` (the same files)
            "ingest_seconds": seconds,
            "ratio": _ratio(seconds, read["seconds"]),
        }
    seconds = sum(r["seconds"] for r in plain.values())
    ingest_seconds = sum(s["seconds"] for s in ingest.values())
    return {
        "seconds": round(seconds, 3),
        "ingest_seconds": round(ingest_seconds, 3),
        "ratio_ingest_to_plain": _ratio(ingest_seconds, seconds),
        "feeds": feeds,
    }


def _ratio(numerator: float | None, denominator: float) -> float | None:
    return None if numerator is None or denominator <= 0 else round(numerator / denominator, 2)


def format_plain_read(plain: dict[str, Any]) -> str:
    """Plain-text table: feed, files, rows, plain read and ingest seconds, their ratio."""
    head = ("feed", "files", "rows", "plain s", "ingest s", "ingest/plain")
    lines = [f"{head[0]:<24}" + "".join(f"{h:>14}" for h in head[1:])]
    for feed, r in plain["feeds"].items():
        ingest, ratio = r["ingest_seconds"], r["ratio"]
        lines.append(
            f"{feed:<24}{r['files']:>14,}{r['rows']:>14,}{r['seconds']:>14.2f}"
            f"{'' if ingest is None else f'{ingest:.2f}':>14}{'' if ratio is None else ratio:>14}"
        )
    return "\n".join(lines)


def compare_floor(floor_db: Path, warehouse: Path) -> dict[str, Any]:
    """Days on which a floor column differs from the mart's (or exists on one side only)."""
    import duckdb

    conn = duckdb.connect(str(floor_db), read_only=True)
    try:
        conn.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
        out: dict[str, Any] = {"equal": True, "marts": {}}
        for mart, columns in FLOOR_COLUMNS.items():
            checks = ", ".join(
                f"count(*) FILTER (WHERE f.{c} IS DISTINCT FROM m.{c}) AS {c}" for c in columns
            )
            row = conn.execute(
                f"SELECT count(*) AS days, {checks} FROM floor_{mart} AS f "
                f"FULL JOIN wh.marts.{mart} AS m USING (business_date)"
            ).fetchone()
            days, diffs = row[0], dict(zip(columns, row[1:], strict=True))
            totals = conn.execute(
                f"SELECT {', '.join(f'sum(f.{c}), sum(m.{c})' for c in columns)} "
                f"FROM floor_{mart} AS f FULL JOIN wh.marts.{mart} AS m USING (business_date)"
            ).fetchone()
            out["marts"][mart] = {
                "days": days,
                "days_differing": diffs,
                "totals": {
                    c: {"floor": _num(totals[2 * i]), "mart": _num(totals[2 * i + 1])}
                    for i, c in enumerate(columns)
                },
            }
            if any(diffs.values()):
                out["equal"] = False
        return out
    finally:
        conn.close()


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def dbt_run_results(run_id: str, target_dir: Path | None = None) -> dict[str, Any] | None:
    """dbt's run_results.json of the `dbt build` a Dagster run made (target/<op>-<run_id[:7]>-*)."""
    target = target_dir or settings.DBT_PROJECT_DIR / "target"
    found = sorted(target.glob(f"*-{run_id[:7]}-*/run_results.json"), key=os.path.getmtime)
    return json.loads(found[-1].read_text()) if found else None


def table_row_counts(warehouse: Path) -> dict[str, int]:
    """Rows of every base table of the warehouse, keyed `schema.table` (views are not counted:
    counting them would run them)."""
    import duckdb

    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_catalog = current_database()"
        ).fetchall()
        return {
            f"{schema}.{name}": conn.execute(
                f'SELECT count(*) FROM "{schema}"."{name}"'
            ).fetchone()[0]
            for schema, name in tables
        }
    finally:
        conn.close()


def _relation(unique_id: str, node_schema: dict[str, str]) -> str:
    return node_schema.get(unique_id, unique_id.split(".")[-1])


def build_stages(
    report: dict[str, Any],
    run_results: dict[str, Any] | None,
    rows: dict[str, int],
    manifest_nodes: dict[str, str] | None = None,
    wall_seconds: float | None = None,
) -> list[Stage]:
    """The result table of one pipeline run.

    `report` is the CLI's --report-json, `run_results` dbt's run_results.json, `rows` the
    warehouse's table row counts (`schema.table`), `manifest_nodes` maps a dbt unique_id to its
    `schema.table`, `wall_seconds` is the subprocess wall time (start-up included).
    """
    stages: list[Stage] = []
    steps: dict[str, float] = report["step_seconds"]
    numbers: dict[str, dict[str, float]] = report.get("asset_numbers", {})
    for step, seconds in sorted(steps.items()):
        if step.startswith("raw__"):
            feed = step.removeprefix("raw__")
            meta = numbers.get(f"raw/{feed}", {})
            read = meta.get("rows_read", meta.get("dagster/row_count"))
            stages.append(Stage(f"ingest {feed}", seconds, _int(read), "ingest"))
    dbt_step = sum(s for k, s in steps.items() if k.startswith("dbt_"))
    if run_results is not None:
        nodes = manifest_nodes or {}
        tests_seconds = 0.0
        for result in run_results["results"]:
            uid = result["unique_id"]
            if uid.startswith("model."):
                relation = _relation(uid, nodes)
                stages.append(
                    Stage(
                        f"dbt {relation}",
                        float(result["execution_time"]),
                        rows.get(relation),
                        "dbt_model",
                    )
                )
            else:
                tests_seconds += float(result["execution_time"])
        stages.append(Stage("dbt tests (sum)", tests_seconds, None, "dbt_tests"))
        elapsed = float(run_results.get("elapsed_time", 0.0))
        stages.append(
            Stage("dbt start-up (step − dbt elapsed)", dbt_step - elapsed, None, "overhead")
        )
    stages.append(Stage("dbt build step", dbt_step, None, "dbt"))
    for step, seconds in sorted(steps.items()):
        if step.startswith("gx_"):
            relation = step.removeprefix("gx_").replace("__", ".", 1)
            stages.append(Stage(f"gx {relation}", seconds, rows.get(relation), "gx"))
    marts_rows = sum(n for rel, n in rows.items() if rel.startswith("marts."))
    for step, seconds in sorted(steps.items()):
        kind = _step_kind(step)
        if kind == "publish":
            stages.append(Stage(f"publish {step}", seconds, marts_rows or None, "publish"))
        elif kind == "other":
            stages.append(Stage(f"step {step}", seconds, None, "other"))
    if wall_seconds is not None:
        stages.append(
            Stage(
                "dagster overhead (wall − steps)",
                wall_seconds - sum(steps.values()),
                None,
                "overhead",
            )
        )
        stages.append(Stage("total (wall)", wall_seconds, None, "total"))
    return stages


def _step_kind(step: str) -> str:
    if step.startswith("raw__"):
        return "ingest"
    if step.startswith("dbt_"):
        return "dbt"
    if step.startswith("gx_"):
        return "gx"
    if step.startswith("serving__"):
        return "publish"
    return "other"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def summarize(stages: list[Stage]) -> dict[str, float]:
    """Seconds per kind, plus the GX share of the total.

    `dbt` is the whole dbt step; `overhead` is the orchestration overhead of the target (Dagster
    outside the steps + dbt's start-up, which is also inside the dbt step)."""
    by_kind: dict[str, float] = {}
    for stage in stages:
        if stage.kind in ("dbt_model", "dbt_tests", "total"):
            continue  # inside the dbt step / the total itself
        by_kind[stage.kind] = by_kind.get(stage.kind, 0.0) + stage.seconds
    total = next((s.seconds for s in stages if s.kind == "total"), None)
    out = {k: round(v, 3) for k, v in sorted(by_kind.items())}
    if total:
        out["total"] = round(total, 3)
        out["gx_share"] = round(by_kind.get("gx", 0.0) / total, 4)
    return out


def format_table(stages: list[Stage]) -> str:
    """Plain-text table: stage, seconds, rows, rows/s."""
    lines = [f"{'stage':<52}{'seconds':>10}{'rows':>14}{'rows/s':>14}"]
    for stage in stages:
        rows = f"{stage.rows:,}" if stage.rows is not None else ""
        rps = stage.rows_per_s
        lines.append(
            f"{stage.name[:51]:<52}{stage.seconds:>10.2f}{rows:>14}"
            f"{(f'{rps:,.0f}' if rps is not None else ''):>14}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------- orchestration


@dataclass
class BenchCase:
    scale: float
    seed: int
    days: int
    start: str | None  # the sample's first day (None: the generator's default)
    root: Path  # <work dir>/<sf…>-seed<seed>

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    def env(self) -> dict[str, str]:
        run = self.run_dir
        return {
            **settings.process_env(),
            "LANDING_DIR": str(self.landing),
            "WAREHOUSE_PATH": str(run / "warehouse.duckdb"),
            "SERVING_DIR": str(run / "serving"),
            "DAGSTER_HOME": str(run / "dagster_home"),
            "GX_DOCS_DIR": str(run / "docs"),
            # dbt's parse state and per-run artifacts stay in the bench folder, apart from the
            # worktree's dbt_project/target (which tests and `make pipeline` use).
            "DBT_TARGET_PATH": str(self.dbt_target),
            # Daily partitions begin on the sample's first day.
            **({"PARTITIONS_START_DATE": self.start} if self.start else {}),
        }

    @property
    def dbt_target(self) -> Path:
        return self.run_dir / "dbt_target"

    @property
    def full_copy(self) -> Path:
        return self.root / "run-after-full"


@dataclass
class BenchResult:
    """One run of the bench: the content of bench/results/sf<scale>.json."""

    schema_version: int
    scale: float
    seed: int
    days: int
    start: str | None
    started_at: str
    commit: str | None  # HEAD when the run started (None outside a git checkout)
    dirty: bool | None  # tracked files differed from HEAD (bench/results aside)
    host: dict[str, Any]
    settings: dict[str, Any]
    generate: dict[str, Any]
    full: dict[str, Any]
    incremental: dict[str, Any]
    floor: dict[str, Any]
    plain_read: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def git_state(repo: Path) -> tuple[str | None, bool | None]:
    """HEAD's short hash and whether tracked files differ from it, so that a result file names
    the code it measured; (None, None) when `repo` is no git checkout or git is missing."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return head, bool(status.strip())


def ensure_sample(case: BenchCase, force: bool) -> dict[str, Any]:
    """Generate the sample unless the same seed/scale/days/start is already there."""
    marker = case.root / "sample.json"
    wanted = {"scale": case.scale, "seed": case.seed, "days": case.days, "start": case.start}
    if not force and marker.exists() and (case.landing / "_manifest.json").exists():
        previous = json.loads(marker.read_text())
        if {k: previous.get(k) for k in wanted} == wanted:
            return {**previous, "reused": True}
    marker.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "orchestration.sample",
        "--scale",
        f"{case.scale:g}",
        "--seed",
        str(case.seed),
        "--days",
        str(case.days),
        *(["--start", case.start] if case.start else []),
        "--out",
        str(case.landing),
        "--clean",
    ]
    measured = run_measured(cmd, settings.process_env(), case.root / "logs" / "generate.log")
    if measured.returncode != 0:
        raise RuntimeError(f"sample generation failed:\n{measured.output_tail}")
    manifest = json.loads((case.landing / "_manifest.json").read_text())
    rows = sum(manifest["rows"].values())
    info = {
        **wanted,
        "seconds": round(measured.seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "rows": rows,
        "rows_by_feed": manifest["rows"],
        "bytes": sum(p.stat().st_size for p in case.landing.rglob("*") if p.is_file()),
        "peak_rss_tree_bytes": measured.peak_rss_tree_bytes,
    }
    marker.write_text(json.dumps(info, indent=2))
    return {**info, "reused": False}


def cli_has_range(env: dict[str, str]) -> bool:
    """Whether `pipeline` takes `--from/--to` (added by the daily-partitions branch)."""
    out = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "pipeline", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return "--from" in out.stdout


def landing_partitions(landing: Path) -> list[str]:
    """Every `dt=` partition of the landing, oldest first."""
    pattern = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")
    dts = sorted({m.group(1) for p in landing.glob("*/dt=*") if (m := pattern.fullmatch(p.name))})
    if len(dts) < 2:
        raise RuntimeError(f"the bench needs at least two dt= partitions under {landing}")
    return dts


def partition_files(landing: Path, dt: str) -> int:
    return sum(1 for p in landing.glob(f"*/dt={dt}/*") if p.is_file())


def manifest_relations() -> dict[str, str]:
    """dbt unique_id -> `schema.relation` from the parsed manifest."""
    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    return {
        uid: f"{node['schema']}.{node.get('alias') or node['name']}"
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }


def pipeline_run(case: BenchCase, label: str, extra: list[str]) -> dict[str, Any]:
    """One `pipeline` subprocess: its stages, memory and report."""
    report_path = case.run_dir / f"{label}-report.json"
    report_path.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "orchestration.cli",
        "pipeline",
        *extra,
        "--report-json",
        str(report_path),
    ]
    measured = run_measured(cmd, case.env(), case.root / "logs" / f"{label}.log")
    if not report_path.exists():
        raise RuntimeError(f"{label} pipeline wrote no report:\n{measured.output_tail}")
    report = json.loads(report_path.read_text())
    warehouse = Path(case.env()["WAREHOUSE_PATH"])
    rows = table_row_counts(warehouse)
    run_results = dbt_run_results(report["run_id"], case.dbt_target)
    stages = build_stages(report, run_results, rows, manifest_relations(), measured.seconds)
    return {
        "ok": measured.returncode == 0 and report["ok"],
        "run_id": report["run_id"],
        "seconds": round(measured.seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "peak_rss_tree_bytes": measured.peak_rss_tree_bytes,
        "max_rss_single_bytes": measured.max_rss_single_bytes,
        "peak_at_seconds": round(measured.peak_at_seconds, 1),
        "peak_processes": measured.peak_processes,
        "step_started_at_seconds": step_offsets(case, report["run_id"], measured),
        "summary": summarize(stages),
        "stages": [s.to_json() for s in stages],
        "failed_checks": report.get("failed_checks", []),
        "failed_steps": report.get("failed_steps", {}),
        "_stages": stages,
    }


def step_offsets(case: BenchCase, run_id: str, measured: Measured) -> dict[str, float]:
    """When each step started, in seconds from the subprocess start (from the Dagster event
    log), so that the RSS timeline (logs/<run>.rss.csv) and its peak can be put on a step."""
    import sqlite3

    db = case.run_dir / "dagster_home" / "history" / "runs" / f"{run_id}.db"
    if not db.exists():
        return {}
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT step_key, timestamp FROM event_logs WHERE dagster_event_type = 'STEP_START'"
        ).fetchall()
    finally:
        conn.close()
    if not rows:
        return {}
    start = measured.ended_at - measured.seconds  # epoch seconds
    return {  # the event log's timestamps are naive UTC
        step: round(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp() - start, 1)
        for step, stamp in rows
    }


def floor_run(case: BenchCase) -> dict[str, Any]:
    """The floor in a subprocess of its own (measured like a pipeline run), then its comparison
    with the marts of the full and one-day builds."""
    database = case.run_dir / "floor.duckdb"
    cmd = [
        sys.executable,
        "-m",
        "bench.harness",
        "--floor-only",
        str(case.landing),
        str(database),
    ]
    # `bench` is a folder of the repository, not an installed package: run from its root.
    measured = run_measured(
        cmd, case.env(), case.root / "logs" / "floor.log", cwd=settings.REPO_ROOT
    )
    if measured.returncode != 0:
        raise RuntimeError(f"floor failed:\n{measured.output_tail}")
    comparison = compare_floor(database, Path(case.env()["WAREHOUSE_PATH"]))
    return {
        "seconds": round(measured.seconds, 3),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "peak_rss_tree_bytes": measured.peak_rss_tree_bytes,
        "comparison": comparison,
    }


def prepare(case: BenchCase) -> None:
    """A deployment parses the dbt project with its own settings (dbt re-parses everything when
    the rendered profile differs); untimed, like `make prepare` before `make pipeline`."""
    prepared = run_measured(
        [sys.executable, "-m", "orchestration.cli", "prepare", "--force"],
        case.env(),
        case.root / "logs" / "prepare.log",
    )
    if prepared.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{prepared.output_tail}")


def keep_full_build(case: BenchCase, full: dict[str, Any]) -> None:
    """Copy the run folder after the full build (and its result), for repeated one-day builds."""
    shutil.rmtree(case.full_copy, ignore_errors=True)
    shutil.copytree(case.run_dir, case.full_copy, symlinks=True)
    (case.full_copy / "full.json").write_text(json.dumps(full, default=str))


def restore_full_build(case: BenchCase) -> dict[str, Any]:
    """The run folder as the kept full build left it, the project parsed again; its result."""
    if not (case.full_copy / "full.json").is_file():
        raise RuntimeError(f"no kept full build in {case.full_copy} (run with --repeat 2 first)")
    shutil.rmtree(case.run_dir, ignore_errors=True)
    shutil.copytree(case.full_copy, case.run_dir, symlinks=True)
    prepare(case)
    return json.loads((case.run_dir / "full.json").read_text())


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def run_bench(args: argparse.Namespace) -> BenchResult:
    work = settings.resolve_path(args.dir)
    label = scale_label(args.scale, args.days)
    case = BenchCase(
        args.scale, args.seed, args.days, args.start, work / f"{label}-seed{args.seed}"
    )
    case.root.mkdir(parents=True, exist_ok=True)
    started_at, load_at_start = datetime.now(UTC), os.getloadavg()
    commit, dirty = git_state(settings.REPO_ROOT)
    notes: list[str] = []

    _say(f"bench {label} seed {case.seed}: {case.root}")
    generate = ensure_sample(case, args.force_sample)
    _say(
        f"sample: {generate['rows']:,} rows, "
        + ("reused" if generate["reused"] else f"generated in {generate['seconds']:.1f} s")
    )

    # The full build loads every day but the last; the one-day build then loads the last day,
    # as a daily run does when a new day lands: its batch is one day of new rows (and the
    # updates that day delivers for older orders), which every incremental model processes.
    # (Without a one-day build the full build loads every day.)
    one_day = not args.no_incremental and cli_has_range(case.env())
    dts = landing_partitions(case.landing)
    day, full_to = dts[-1], dts[-2] if one_day else dts[-1]
    if args.one_day_only:
        full = restore_full_build(case)
        _say(f"full build reused from {case.full_copy}")
    else:
        shutil.rmtree(case.run_dir, ignore_errors=True)
        case.run_dir.mkdir(parents=True)
        prepare(case)
        _say(f"full build (dt {dts[0]}..{full_to}) …")
        full = pipeline_run(case, "full", ["--to", full_to])
        full["dt_range"] = [dts[0], full_to]
        _say(format_table(full.pop("_stages")))
        if one_day and args.repeat > 1:
            keep_full_build(case, full)
    if not full["ok"]:
        notes.append(f"full build failed: {full['failed_steps'] or full['failed_checks']}")

    incremental: dict[str, Any]
    if args.no_incremental:
        incremental = {"available": False, "reason": "skipped (--no-incremental)"}
    elif not one_day:
        incremental = {"available": False, "reason": "incremental: not available (no --from/--to)"}
    else:
        files = partition_files(case.landing, day)
        repeats: list[dict[str, float]] = []
        for repeat in range(args.repeat):
            if repeat or args.one_day_only:
                restore_full_build(case)
            _say(f"one-day incremental build of the new dt={day} ({files} files) …")
            incremental = {"available": True, "dt": day, "files": files}
            incremental.update(pipeline_run(case, "incremental", ["--from", day, "--to", day]))
            _say(format_table(incremental.pop("_stages")))
            repeats.append({k: incremental[k] for k in ("seconds", "cpu_seconds")})
        incremental["repeats"] = repeats  # the stages are the last repeat's
        incremental["share_of_full"] = round(incremental["seconds"] / full["seconds"], 4)
    if incremental["available"]:
        for r in incremental["repeats"]:
            _say(f"incremental: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU")
    else:
        _say(incremental["reason"])

    _say(f"plain read of the full build's files (dt {dts[0]}..{full_to}) …")
    read = plain_read(case.landing, case.run_dir / "plain_read.duckdb", full_to)
    plain = ingest_vs_plain(full["stages"], read)
    _say(format_plain_read(plain))

    floor: dict[str, Any] = {"skipped": True}
    if not args.no_floor and full["ok"]:  # a failed build may lack the marts to compare
        _say("floor …")
        floor = floor_run(case)
        floor["ratio_full_to_floor"] = round(full["seconds"] / floor["seconds"], 2)
        comparison = floor["comparison"]
        if not comparison["equal"]:
            notes.append("the floor's numbers differ from the marts (see floor.comparison)")
        _say(
            f"floor: {floor['seconds']:.1f} s; "
            f"full build / floor = {floor['ratio_full_to_floor']}x; "
            f"equal to the marts: {comparison['equal']}"
        )

    _say(
        f"full build {full['seconds']:.1f} s wall, {full['cpu_seconds']:.1f} s CPU, "
        f"peak RSS {_gib(full['peak_rss_tree_bytes'])} "
        f"(process tree, sampled), largest process {_gib(full['max_rss_single_bytes'])}; "
        f"ingest {plain['ingest_seconds']:.1f} s / plain read {plain['seconds']:.1f} s = "
        f"{plain['ratio_ingest_to_plain']}x"
    )
    return BenchResult(
        schema_version=SCHEMA_VERSION,
        scale=case.scale,
        seed=case.seed,
        days=case.days,
        start=case.start,
        started_at=started_at.isoformat(timespec="seconds"),
        commit=commit,
        dirty=dirty,
        host={
            "cpus": os.cpu_count(),
            "load_avg_at_start": load_at_start,  # 1, 5 and 15 minutes: others' work too
            "load_avg_at_end": os.getloadavg(),
            "python": sys.version.split()[0],
        },
        settings={
            "duckdb_memory_limit": settings.get().duckdb_memory_limit,
            "duckdb_threads": settings.get().duckdb_threads,
            "rss_method": "sum of /proc/<pid>/statm RSS over the pipeline subprocess tree, "
            "sampled every 0.2 s; max_rss_single = ru_maxrss from wait4",
        },
        generate=generate,
        full=full,
        incremental=incremental,
        floor=floor,
        plain_read=plain,
        notes=notes,
    )


def write_result(result: BenchResult, out_dir: Path) -> Path:
    """Write `out_dir/sf<scale>[-d<days>].json`, replacing the previous run of that scale and
    number of days: the results folder holds the latest run of each, and git the earlier ones.
    Written to a temporary file first, so that an interrupted write leaves the previous whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{scale_label(result.scale, result.days)}.json"
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")
    os.replace(partial, path)
    return path


def growth(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float | None]:
    """Each full-build stage's seconds in the result `large` over its seconds in `small`, the
    largest growth first (None: a stage `small` lacks)."""
    before = {s["name"]: s["seconds"] for s in small["full"]["stages"]}
    grown = {
        s["name"]: _ratio(s["seconds"], before.get(s["name"], 0.0)) for s in large["full"]["stages"]
    }
    return dict(sorted(grown.items(), key=lambda item: (item[1] is not None, -(item[1] or 0))))


def print_growth(small_path: Path, large_path: Path) -> None:
    small, large = (json.loads(p.read_text()) for p in (small_path, large_path))
    _say(f"full-build stages, {large_path.name} / {small_path.name} (limit {GROWTH_LIMIT:g}x):")
    for name, ratio in growth(small, large).items():
        flag = "  over the limit" if ratio is not None and ratio > GROWTH_LIMIT else ""
        _say(f"{name[:51]:<52}{'new' if ratio is None else f'{ratio}x':>10}{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.harness", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument(
        "--start",
        help="the sample's first day, YYYY-MM-DD (many days: early enough that none is ahead)",
    )
    parser.add_argument("--dir", default=DEFAULT_WORK_DIR, help="bench work folder (gitignored)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="results folder (its sf<scale>… is replaced)"
    )
    parser.add_argument("--force-sample", action="store_true", help="regenerate the sample")
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="one-day builds, each from a copy of the full build (kept when above 1)",
    )
    parser.add_argument(
        "--one-day-only",
        action="store_true",
        help="no full build: the one-day builds start from the copy an earlier --repeat kept",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("SMALL", "LARGE"),
        help="no run: how much each stage grew from one result file to the other",
    )
    parser.add_argument(
        "--floor-only", nargs=2, metavar=("LANDING", "DATABASE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.compare:
        print_growth(*args.compare)
        return 0
    if args.floor_only:
        run_floor(Path(args.floor_only[0]), Path(args.floor_only[1]))
        return 0
    result = run_bench(args)
    path = write_result(result, args.out)
    _say(f"results: {path}")
    return 0 if result.full["ok"] and not result.notes else 1


if __name__ == "__main__":
    sys.exit(main())
