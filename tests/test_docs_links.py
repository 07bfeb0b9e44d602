"""Every relative link of the docs resolves to a file inside the repository.

The docs are README.md, CHANGELOG.md and every docs/**/*.md. A link (`[text](path)`,
`[text](path#anchor)`, `![alt](path)` or a reference definition `[label]: path`) outside code
must name a file or folder inside the repository, never one next to it: a clone has nothing
else. A `#anchor` into a Markdown file must match one of its headings, slugged as GitHub does.
http(s) and mailto links are not checked.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted(
    [REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").rglob("*.md")],
    key=lambda path: path.relative_to(REPO).as_posix(),
)
EXTERNAL = re.compile(r"(?i)^(https?:|mailto:)")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the text may hold one level of brackets, the target may be
# <wrapped> and may carry a "title".
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]+(?:\([^\s()]*\)[^\s()]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
HTML_ID = re.compile(r"<a\s[^>]*(?:name|id)=\"([^\"]+)\"")


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
            continue
        if match:
            fence = match.group(1)
            continue
        yield number, line


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every link of a Markdown file, code spans and blocks left out.
    A link's text may wrap over lines."""
    lines = dict(prose_lines(path.read_text(encoding="utf-8")))
    last = max(lines, default=0)
    prose = "\n".join(CODE_SPAN.sub("", lines.get(n, "")) for n in range(1, last + 1))
    for match in INLINE_LINK.finditer(prose):
        yield prose.count("\n", 0, match.start(1)) + 1, match.group(1).strip("<>")
    for number, line in enumerate(prose.splitlines(), start=1):
        if reference := REFERENCE.match(line):
            yield number, reference.group(1).strip("<>")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped (letters,
    digits, `_` and `-` of any script stay), spaces to `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown file: its headings' slugs (a repeated slug gets `-1`, `-2`, …
    as on GitHub) and explicit `<a name=…>` / `id=…` anchors."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        found.update(HTML_ID.findall(line))
        if not (match := HEADING.match(line)):
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def ignored(root: Path, paths: list[Path]) -> set[Path]:
    """The paths git ignores in the checkout at root (generated output a clone does not have)."""
    if not paths or not (root / ".git").exists():
        return set()
    listed = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "--stdin", "-z"],
        input="\0".join(str(path) for path in paths),
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode in (0, 1), listed.stderr  # 1: nothing ignored
    return {Path(name) for name in listed.stdout.split("\0") if name}


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """The links of a doc that do not resolve inside the repository at root, with the reason."""
    broken = []
    found: list[tuple[str, Path]] = []
    for number, target in links(path):
        if EXTERNAL.match(target):
            continue
        where = f"{path.relative_to(root)}:{number}: {target}"
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target):
            broken.append(f"{where} (a scheme other than http(s) or mailto)")
            continue
        file_part, _, anchor = target.partition("#")
        file_part = unquote(file_part.split("?")[0])
        if file_part.startswith("/"):
            broken.append(f"{where} (absolute path; link relative to the file)")
            continue
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(root):
            broken.append(f"{where} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            broken.append(f"{where} (no heading #{anchor} in {resolved.relative_to(root)})")
        else:
            found.append((where, resolved))
    not_in_git = ignored(root, [resolved for _, resolved in found])
    broken += [f"{where} (ignored by git)" for where, resolved in found if resolved in not_in_git]
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    assert not broken_links(doc), "\n".join(broken_links(doc))


def test_the_docs_are_found_and_link_to_the_specs() -> None:
    names = {path.relative_to(REPO).as_posix() for path in DOCS}
    assert {"README.md", "CHANGELOG.md", "docs/bi.md", "docs/specs/kpi-catalog.md"} <= names
    specs = {"specs/kpi-catalog.md", "specs/landing-contract.md", "specs/mart-contract.md"}
    readme_targets = {target for _, target in links(REPO / "README.md")}
    assert {f"docs/{spec}" for spec in specs} <= readme_targets


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        (
            "4. Users and retention (用户增长 / 留存 / 复购)",
            "4-users-and-retention-用户增长--留存--复购",
        ),
        ("Why `serving.duckdb` and not `marts.duckdb`", "why-servingduckdb-and-not-martsduckdb"),
        ("Targets (issue 8, at SF1 on 2 cores)", "targets-issue-8-at-sf1-on-2-cores"),
        ("Raw suites in a partition-range run", "raw-suites-in-a-partition-range-run"),
    ],
)
def test_github_slug(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_a_repeated_heading_gets_a_numbered_anchor(tmp_path: Path) -> None:
    doc = tmp_path / "rounds.md"
    doc.write_text(
        "# Rounds\n\n## Targets (issue 8, at SF1 on 2 cores)\n\n"
        "### Targets (issue 8, at SF1 on 2 cores)\n",
        encoding="utf-8",
    )
    assert {
        "targets-issue-8-at-sf1-on-2-cores",
        "targets-issue-8-at-sf1-on-2-cores-1",
    } <= anchors(doc)


def test_the_check_finds_each_kind_of_broken_link(tmp_path: Path) -> None:
    tmp_path = tmp_path.resolve()  # a checkout of its own, with a git ignore rule
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("data/\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "report.html").write_text("<html></html>", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "b.md").write_text("# B\n\n## Second part (二)\n", encoding="utf-8")
    doc = docs / "a.md"
    doc.write_text(
        "# A\n\n"
        "[ok](b.md#second-part-二), [ok too](b.md), [here](#a), [web](https://example.com/x)\n"
        "[outside](../../shared/spec.md), [gone](c.md), [bad anchor](b.md#third)\n"
        "[absolute](/etc/hosts), [file](file:///etc/hosts), [generated](../data/report.html)\n"
        "`[in code](nowhere.md)` and a [link that\nwraps](missing.md)\n\n"
        "```\n[in a block](nowhere.md)\n```\n\n"
        "[ref]: ../../outside.md\n",
        encoding="utf-8",
    )
    found = broken_links(doc, root=tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == [
        "../../shared/spec.md (outside the repository)",
        "c.md (no such file)",
        "b.md#third (no heading #third in docs/b.md)",
        "/etc/hosts (absolute path; link relative to the file)",
        "file:///etc/hosts (a scheme other than http(s) or mailto)",
        "missing.md (no such file)",
        "../../outside.md (outside the repository)",
        "../data/report.html (ignored by git)",
    ]
    assert found[0].startswith("docs/a.md:4: ")
    assert found[5].startswith("docs/a.md:7: ")
