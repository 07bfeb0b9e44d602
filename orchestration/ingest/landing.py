"""Discovery of landing files: `<root>/<feed>/dt=YYYY-MM-DD/<name>.<ext>`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path

# Extension → DuckDB reader family. Longest suffix first so ".csv.gz" wins over ".gz".
FORMATS: dict[str, str] = {
    ".csv.gz": "csv",
    ".csv": "csv",
    ".jsonl.gz": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
}
_PARTITION_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_GLOB_CHARS = re.compile(r"([*?\[{])")


class LandingFileError(Exception):
    """A landing file that cannot be loaded. Rejected whole: nothing of it reaches raw."""

    def __init__(self, file: Path | str, reason: str, line: int | None = None) -> None:
        self.file = str(file)
        self.reason = reason
        self.line = line
        where = f"{self.file}, line {line}" if line is not None else self.file
        super().__init__(f"rejected {where}: {reason}")


@dataclass(frozen=True, order=True)
class LandingFile:
    """One delivered file of a feed's daily partition."""

    partition_dt: date
    path: Path
    fmt: str  # csv | json | parquet

    def relative_to(self, root: Path) -> str:
        return self.path.relative_to(root).as_posix()


def reader_path(path: Path) -> str:
    """`path` as a DuckDB reader argument that names exactly this file, never a pattern.

    DuckDB's readers glob every path they are given (a list too): `orders [1].csv` would read
    `orders 1.csv` and `part-*.csv` its siblings. Each glob character is put in a character
    class of its own (`[*]`), which matches only itself; the `filename` column still returns
    the real name.
    """
    return _GLOB_CHARS.sub(r"[\1]", str(path))


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return None


def _is_hidden(path: Path) -> bool:
    # Temp files of an export still being written, and our own manifests, are not data.
    return path.name.startswith((".", "_", "~"))


def check_inside(landing_root: Path, path: Path) -> Path:
    """`path`, unless it is (or goes through) a link that leads outside `landing_root`.

    A link out of the landing would load whatever it points at (another export, a secrets
    file) as this feed's data; the error names the link only, never the target or its content.
    """
    if not path.resolve().is_relative_to(landing_root.resolve()):
        raise LandingFileError(path, "a link that leads outside the landing folder: refused")
    return path


def partition_dirs(landing_root: Path, feed: str) -> list[tuple[date, Path]]:
    """The `dt=YYYY-MM-DD` folders of one feed, sorted by date.

    A partition folder not named `dt=YYYY-MM-DD` or with an invalid date is an error:
    silently skipping it would lose data.
    """
    feed_dir = landing_root / feed
    if not feed_dir.is_dir():
        return []
    check_inside(landing_root, feed_dir)
    found: list[tuple[date, Path]] = []
    for part_dir in sorted(p for p in feed_dir.iterdir() if not _is_hidden(p)):
        check_inside(landing_root, part_dir)
        match = _PARTITION_DIR.match(part_dir.name)
        if not part_dir.is_dir() or not match:
            raise LandingFileError(part_dir, "expected a partition folder named dt=YYYY-MM-DD")
        try:
            found.append((date.fromisoformat(match.group(1)), part_dir))
        except ValueError:
            raise LandingFileError(part_dir, f"invalid partition date {match.group(1)!r}") from None
    return found


def discover_feed_files(
    landing_root: Path, feed: str, first: date | None = None, last: date | None = None
) -> list[LandingFile]:
    """The files of one feed (of partitions `first`..`last`, inclusive, if given), sorted.

    A file with an unsupported extension is an error: silently skipping it would lose data.
    """
    files: list[LandingFile] = []
    for partition_dt, part_dir in partition_dirs(landing_root, feed):
        if (first and partition_dt < first) or (last and partition_dt > last):
            continue
        for path in sorted(p for p in part_dir.iterdir() if not _is_hidden(p)):
            check_inside(landing_root, path)
            fmt = file_format(path)
            if fmt is None or not path.is_file():
                supported = ", ".join(FORMATS)
                raise LandingFileError(path, f"unsupported file type (expected one of {supported})")
            files.append(LandingFile(partition_dt, path, fmt))
    return files


# A folder name this similar to a feed's (SequenceMatcher ratio, lower case) is taken for a
# misspelling of it: `order` → orders, `Reviews` → reviews, `returns` → refunds.
CLOSE_NAME = 0.7


def unknown_entries(landing_root: Path, feeds: Iterable[str]) -> list[Path]:
    """Folders and files directly under the landing root that are not a feed's folder.

    The ingest reads nothing of them (a misspelt `order/`, an unknown `returns/`): say so.
    """
    if not landing_root.is_dir():
        return []
    known = set(feeds)
    return sorted(p for p in landing_root.iterdir() if not _is_hidden(p) and p.name not in known)


def nearest_feed(name: str, feeds: Sequence[str]) -> tuple[str, bool]:
    """The feed whose name is most like `name` (the first on a tie), and whether it is close
    enough (CLOSE_NAME) to be what `name` was meant to be."""
    scores = [SequenceMatcher(None, name.lower(), f.lower()).ratio() for f in feeds]
    best = max(range(len(feeds)), key=lambda i: scores[i])
    return feeds[best], scores[best] >= CLOSE_NAME


def describe_unknown_entry(entry: Path, feeds: Sequence[str]) -> str:
    """`folder order/ is not a feed (did you mean orders?): not read`."""
    feed, close = nearest_feed(entry.name, feeds)
    what = f"folder {entry.name}/" if entry.is_dir() else f"file {entry.name}"
    hint = f"; did you mean {feed}?" if close else ""
    return f"{what} under the landing is not a feed of the contract{hint}: not read"
