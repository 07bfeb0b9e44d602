"""The published serving folder (SERVING_DIR, docs/bi.md): versions, atomic swap, rollback.

The top-level `serving.duckdb`, `parquet/` and `report.html` are the current publish, one of the
last SERVING_KEEP kept under `versions/v<N>/`; promoting renames a copy over each file, so a
reader sees the old file or the new one. CLI: `python -m orchestration.serving list | rollback`."""

import argparse
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb

from orchestration import settings

DATABASE = "serving.duckdb"
PARQUET = "parquet"
REPORT = "report.html"
VERSIONS = "versions"
LOG_TABLE = "marts._publish_log"


def version_dir(serving_dir: Path, version: int) -> Path:
    return serving_dir / VERSIONS / f"v{version:06d}"


def kept_versions(serving_dir: Path) -> list[int]:
    """The complete versions under versions/, oldest first (staging folders are hidden)."""
    names = [db.parent.name for db in serving_dir.glob(f"{VERSIONS}/v*/{DATABASE}")]
    return sorted(int(name[1:]) for name in names if name[1:].isdecimal())


def read_log(database: Path) -> list[dict]:
    """The rows of `marts._publish_log` in `database`, oldest first (unversioned rows first)."""
    with duckdb.connect(str(database), read_only=True) as conn:
        log = conn.sql(f"SELECT * FROM {LOG_TABLE} ORDER BY version NULLS FIRST")
        return log.to_arrow_table().to_pylist()


def current_version(serving_dir: Path) -> int | None:
    """The version of the top-level serving.duckdb (its newest log row), None if none/unknown."""
    database = serving_dir / DATABASE
    try:
        rows = read_log(database) if database.is_file() else []
    except duckdb.Error:
        return None
    return max((r["version"] for r in rows if r["version"] is not None), default=None)


def next_version(serving_dir: Path) -> int:
    """One more than any version kept or current: versions only ever increase."""
    return max([*kept_versions(serving_dir), current_version(serving_dir) or 0]) + 1


def history_database(serving_dir: Path) -> Path | None:
    """The newest kept version's database (full history even after a rollback), else the current."""
    kept = kept_versions(serving_dir)
    database = version_dir(serving_dir, kept[-1]) / DATABASE if kept else serving_dir / DATABASE
    return database if database.is_file() else None


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """`write` a temporary file beside `target`, fsync it, rename it over `target`: a reader
    sees the old file or the new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(tmp)
        fsync(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def promote(serving_dir: Path, version: int) -> None:
    """Make kept `version` current: Parquet files, the report, then serving.duckdb, each
    swapped atomically; once the database shows version N, the Parquet files are N's too."""
    source = version_dir(serving_dir, version)
    parquet = serving_dir / PARQUET
    parquet.mkdir(parents=True, exist_ok=True)
    wanted = {f.name for f in (source / PARQUET).glob("*.parquet")}
    for name in sorted(wanted):
        write_atomic(parquet / name, partial(shutil.copyfile, source / PARQUET / name))
    for stale in parquet.glob("*.parquet"):
        if stale.name not in wanted:
            stale.unlink()
    fsync(parquet)
    if (source / REPORT).is_file():  # else its drawing failed: show no other version's report
        write_atomic(serving_dir / REPORT, partial(shutil.copyfile, source / REPORT))
    else:
        (serving_dir / REPORT).unlink(missing_ok=True)
    write_atomic(serving_dir / DATABASE, partial(shutil.copyfile, source / DATABASE))
    fsync(serving_dir)


def prune(serving_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` versions (never the current one)."""
    current = current_version(serving_dir)
    kept = kept_versions(serving_dir)
    for version in kept[: max(len(kept) - keep, 0)]:
        if version != current:
            shutil.rmtree(version_dir(serving_dir, version))
    fsync(serving_dir / VERSIONS)


def publish_version(
    serving_dir: Path, version: int, build: Callable[[Path], dict[str, int]], keep: int
) -> dict[str, int]:
    """Build `version` with `build(staging_dir)` (serving.duckdb, parquet/), seal it under
    versions/, promote it, prune. If `build` raises, nothing visible has changed."""
    for tmp in [*serving_dir.glob(".*.tmp"), *serving_dir.glob(f"{PARQUET}/.*.tmp")]:
        tmp.unlink(missing_ok=True)  # of a killed publish
    for staging in serving_dir.glob(f"{VERSIONS}/.v*.tmp"):
        shutil.rmtree(staging, ignore_errors=True)
    root = serving_dir / VERSIONS
    root.mkdir(parents=True, exist_ok=True)
    final = version_dir(serving_dir, version)
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    staging = root / f".{final.name}.{uuid.uuid4().hex}.tmp"
    try:
        (staging / PARQUET).mkdir(parents=True)
        result = build(staging)
        for path in [*(staging / PARQUET).iterdir(), *staging.iterdir(), staging]:
            fsync(path)
        os.rename(staging, final)
        fsync(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    promote(serving_dir, version)
    prune(serving_dir, keep)
    return result


def rollback(serving_dir: Path, to: int | None = None) -> int:
    """Promote kept version `to` (default: the newest kept one older than the current)."""
    kept = kept_versions(serving_dir)
    if to is None:
        current = current_version(serving_dir)
        older = [v for v in kept if current is None or v < current]
        if not older:
            raise ValueError(f"no kept version older than the current ({current}); kept: {kept}")
        to = older[-1]
    if to not in kept:
        raise ValueError(f"version {to} is not kept; kept versions: {kept}")
    promote(serving_dir, to)
    return to


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.serving",
        description="The published serving folder (SERVING_DIR): list versions, roll back.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the kept versions and which one is current")
    back = sub.add_parser("rollback", help="swap a kept version back in atomically")
    back.add_argument("--to", type=int, default=None, help="version (default: the previous one)")
    args = parser.parse_args(argv)
    serving_dir = settings.get().serving_dir
    if args.command == "list":
        current = current_version(serving_dir)
        for version in kept_versions(serving_dir):
            mark = "  (current)" if version == current else ""
            sys.stdout.write(f"v{version:06d}  {version_dir(serving_dir, version)}{mark}\n")
        return 0
    try:
        version = rollback(serving_dir, args.to)
    except ValueError as exc:
        sys.stderr.write(f"rollback failed: {exc}\n")
        return 2
    sys.stdout.write(f"serving is now version {version}: {serving_dir / DATABASE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
