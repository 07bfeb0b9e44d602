"""Discovery of landing files: `<root>/<feed>/dt=YYYY-MM-DD/<name>.<ext>`.

Anything that does not fit the layout is an error, never skipped: skipping would lose data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from pathlib import Path

# Extension → DuckDB reader family.
FORMATS = {
    ".csv.gz": "csv",
    ".csv": "csv",
    ".jsonl.gz": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
}
PARTITION_DIR = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
GLOB_CHARS = re.compile(r"([*?\[{])")
# A folder name this similar to a feed's (SequenceMatcher ratio, lower case) is taken for a
# misspelling of it: `order` → orders, `Reviews` → reviews, `returns` → refunds.
CLOSE_NAME = 0.7


class LandingFileError(Exception):
    """A landing file that cannot be loaded. Rejected whole: nothing of it reaches raw."""

    def __init__(self, file: Path | str, reason: str, line: int | None = None) -> None:
        self.file, self.reason, self.line = str(file), reason, line
        where = f"{self.file}, line {line}" if line is not None else self.file
        super().__init__(f"rejected {where}: {reason}")


class MissingColumnsError(LandingFileError):
    """A file whose header lacks contract columns; `near` are its names that look like them."""

    def __init__(self, file: Path | str, missing: list[str], near: list[str]) -> None:
        self.missing = missing
        hint = f" (found instead: {', '.join(near)})" if near else ""
        super().__init__(file, f"missing required column(s) {', '.join(missing)}{hint}", line=1)


@dataclass(frozen=True, order=True)
class LandingFile:
    """One delivered file of a feed's daily partition."""

    partition_dt: date
    path: Path
    fmt: str  # csv | json | parquet


def reader_path(path: Path) -> str:
    """`path` as a DuckDB reader argument naming exactly this file: DuckDB globs every path,
    so each glob character goes in a character class of its own (`[*]`)."""
    return GLOB_CHARS.sub(r"[\1]", str(path))


def visible(folder: Path) -> list[Path]:
    """The entries of `folder`, sorted, without temp files of exports and manifests."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "_", "~")))


def check_inside(landing_root: Path, path: Path) -> Path:
    """`path`, unless it is (or goes through) a link leading outside `landing_root`; the error
    names the link only, never the target."""
    if not path.resolve().is_relative_to(landing_root.resolve()):
        raise LandingFileError(path, "a link that leads outside the landing folder: refused")
    return path


def feed_entries(landing_root: Path, feed: str) -> list[Path]:
    """What the feed's folder holds (its partition folders, if it follows the layout)."""
    feed_dir = landing_root / feed
    return visible(check_inside(landing_root, feed_dir)) if feed_dir.is_dir() else []


def partition_date(landing_root: Path, part_dir: Path) -> date:
    """The date of a `dt=YYYY-MM-DD` folder; any other entry of a feed folder is an error."""
    match = PARTITION_DIR.match(check_inside(landing_root, part_dir).name)
    if not part_dir.is_dir() or not match:
        raise LandingFileError(part_dir, "expected a partition folder named dt=YYYY-MM-DD")
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise LandingFileError(part_dir, f"invalid partition date {match.group(1)!r}") from None


def partition_dirs(landing_root: Path, feed: str) -> list[tuple[date, Path]]:
    """The `dt=YYYY-MM-DD` folders of one feed, sorted by date."""
    return [(partition_date(landing_root, p), p) for p in feed_entries(landing_root, feed)]


def partition_files(landing_root: Path, part_dir: Path) -> list[LandingFile]:
    """The files of one partition folder; one of an unsupported type is an error."""
    partition_dt, files = partition_date(landing_root, part_dir), []
    for path in visible(part_dir):  # a checked folder: only a link in it can lead outside
        name = (check_inside(landing_root, path) if path.is_symlink() else path).name.lower()
        fmt = next((fmt for suffix, fmt in FORMATS.items() if name.endswith(suffix)), None)
        if fmt is None or not path.is_file():
            supported = ", ".join(FORMATS)
            raise LandingFileError(path, f"unsupported file type (expected one of {supported})")
        files.append(LandingFile(partition_dt, path, fmt))
    return files


def discover_feed_files(landing_root: Path, feed: str) -> list[LandingFile]:
    """The files of one feed, sorted."""
    return [f for p in feed_entries(landing_root, feed) for f in partition_files(landing_root, p)]


def stray_entries(landing_root: Path, feeds: Sequence[str]) -> list[tuple[Path, str, str]]:
    """(entry, the feed most like it by name, message) for each entry under the landing root
    that is not a feed's folder: `folder order/ … did you mean orders?: not read`."""
    strays = []
    for entry in visible(landing_root) if landing_root.is_dir() else []:
        if entry.name in feeds:
            continue
        scores = [SequenceMatcher(None, entry.name.lower(), f.lower()).ratio() for f in feeds]
        best = max(range(len(feeds)), key=lambda i: scores[i])
        hint = f"; did you mean {feeds[best]}?" if scores[best] >= CLOSE_NAME else ""
        what = f"folder {entry.name}/" if entry.is_dir() else f"file {entry.name}"
        message = f"{what} under the landing is not a feed of the contract{hint}: not read"
        strays.append((entry, feeds[best], message))
    return strays
