"""GX Data Docs for the quality gates, rendered with GX's own renderers into GX_DOCS_DIR.

The site has GX's usual local layout, so it reads like any GX Data Docs site:

    index.html                                        every suite, and the recent failed runs
    static/                                           GX's styles and images (copied once)
    static/vendor/<package>@<version>/                the CDN assets GX's pages load, local
    expectations/<schema>/<table>.html                a suite's page
    validations/<schema>/<table>/<run>/<time>/<batch>.html   a validation result page

Why not `context.build_data_docs` on a site added to the ephemeral context: its index builder
deletes every page whose suite or result is not in the context's stores, and an ephemeral
context's stores live in memory, so a run that checks one asset would wipe the pages of all the
others; and it re-renders the index and copies the static files on every call (0.2-0.3 s per
suite). Here:

- a suite page is rendered only when the suite changed since it was last rendered (a
  fingerprint of its expectations in `.gx_docs_state.json`), so a run over unchanged suites
  renders none; the checks' warm-up renders them while ingest and dbt run;
- a validation result page is rendered only for a run where an expectation failed (warning or
  critical): that is when someone needs the values; a passing check links to its suite page;
- the index is re-rendered only when a page was written, from the state file (so it lists every
  suite and the most recent failed runs, whichever process wrote them).

The site works offline: GX's templates load bootstrap, jquery, bootstrap-table, font-awesome,
vega and the logo from CDNs (and the index fills its tables with bootstrap-table), so every page
is written with those URLs pointing at copies vendored in `docs_static/` (the versions GX's
templates name, from npm; see its README) and copied into `static/vendor/`.

All functions take the docs directory; a lock serializes writers within the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult

STATE_FILE = ".gx_docs_state.json"
SITE_NAME = "E-commerce warehouse quality gates"
MAX_VALIDATION_PAGES = 200  # listed in the index and kept on disk; older pages are deleted
_DOCS_LOCK = threading.RLock()

VENDOR_DIR = Path(__file__).parent / "docs_static"
# The CDN URLs in GX's page templates -> the vendored files, under static/vendor/.
CDN_ASSETS = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega@5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite@5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed@6.29.0/build/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-free@6.6.0/css/all.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js@1.12.9/dist/umd/popper.min.js"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap@4.3.1/dist/js/bootstrap.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap@4.3.1/dist/css/bootstrap.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table@1.19.1/dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table@1.19.1/dist/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "bootstrap-table@1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.js"
    ),
    # The index asks for the minified stylesheet, the other pages for the plain one: same rules.
    **{
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
        f"bootstrap-table-filter-control{ext}": (
            "bootstrap-table@1.19.0/dist/extensions/filter-control/"
            "bootstrap-table-filter-control.min.css"
        )
        for ext in (".css", ".min.css")
    },
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker@1.9.0/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": (
        "bootstrap-datepicker@1.9.0/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.min.css",
}
# The navbar logo (and its dark-mode background), GX's web assets: GX ships the logo in static/.
_GX_WEB_ASSET = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+/[^\"')]*")
# Integrity hashes and CORS mode of the CDN scripts: a file:// page cannot load them in CORS mode.
_SRI = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')


@dataclass(frozen=True)
class DocsPages:
    """Where a check's docs are: the site index, the suite page, the validation page if any."""

    index: Path
    suite_page: Path
    validation_page: Path | None = None


def suite_page_path(docs_dir: Path, suite_name: str) -> Path:
    return docs_dir.joinpath("expectations", *suite_name.split(".")).with_suffix(".html")


def fingerprint(suite: gx.ExpectationSuite) -> str:
    """A hash of what the suite page shows (name, expectations, meta), the GX version and the
    local assets it loads (so a page is rendered again when they change)."""
    import great_expectations as gx

    payload = {
        "gx": gx.__version__,
        "name": suite.name,
        "expectations": [
            {k: v for k, v in e.configuration.to_json_dict().items() if k != "id"}
            for e in suite.expectations
        ],
        "meta": suite.meta,
        "notes": suite.notes,
        "assets": CDN_ASSETS,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_state(docs_dir: Path) -> dict[str, Any]:
    try:
        state = json.loads((docs_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"suites": {}, "validations": []}
    if not isinstance(state, dict):
        return {"suites": {}, "validations": []}
    state.setdefault("suites", {})
    state.setdefault("validations", [])
    return state


def _write(path: Path, text: str) -> None:
    """Write through a temporary file and rename: a browser never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a folder once, under a temporary name then renamed: a concurrent copy may win."""
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process copied it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_static(docs_dir: Path) -> None:
    """GX's static files, and each vendored package (a folder per version: a new one is added
    to a site that has older ones)."""
    import great_expectations.render.view as gx_view

    static = docs_dir / "static"
    _copy_tree(Path(gx_view.__file__).parent / "static", static)
    for package in VENDOR_DIR.iterdir():
        if package.is_dir():
            _copy_tree(package, static / "vendor" / package.name)


def offline_html(html: str, static: str) -> str:
    """`html` with GX's CDN assets and web images pointing at the site's copies; `static` is the
    relative URL of the site's static/ folder from the page."""
    for url, local in CDN_ASSETS.items():
        html = html.replace(f'"{url}"', f'"{static}vendor/{local}"')
    html = _GX_WEB_ASSET.sub(f"{static}images/logo-long.png", html)
    return _SRI.sub("", html)


def _write_page(docs_dir: Path, page: Path, html: str) -> None:
    """Write a page of the site, its assets made local (relative to the page's depth)."""
    depth = len(page.relative_to(docs_dir).parts) - 1
    _write(page, offline_html(html, "../" * depth + "static/"))


def _render_suite(suite: gx.ExpectationSuite) -> str:
    from great_expectations.render.renderer import ExpectationSuitePageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return DefaultJinjaPageView().render(ExpectationSuitePageRenderer().render(suite))


def _render_validation(result: ExpectationSuiteValidationResult) -> str:
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))


def _link(suite_name: str, filepath: str, **extra: Any) -> dict[str, Any]:
    link = {
        "expectation_suite_name": suite_name,
        "filepath": urllib.parse.quote(filepath),
        "run_id": None,
        "batch_identifier": None,
        "validation_success": None,
        "run_time": None,
        "run_name": None,
        "asset_name": None,
        "batch_kwargs": None,
        "batch_spec": None,
        "expectation_suite_filepath": None,
    }
    link.update(extra)
    return link


def _render_index(docs_dir: Path, state: dict[str, Any]) -> None:
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.render.renderer import SiteIndexPageRenderer
    from great_expectations.render.view import DefaultJinjaIndexPageView

    links: dict[str, Any] = {"site_name": SITE_NAME}
    links["expectations_links"] = [
        _link(name, suite_page_path(Path(), name).as_posix())
        for name in sorted(state["suites"])
        if suite_page_path(docs_dir, name).exists()
    ]
    validations = []
    for entry in state["validations"]:
        if not (docs_dir / entry["path"]).exists():
            continue
        run_id = RunIdentifier(run_name=entry["run_name"], run_time=entry["run_time"])
        validations.append(
            _link(
                entry["suite"],
                entry["path"],
                run_id=run_id,
                run_name=entry["run_name"],
                run_time=run_id.run_time,
                batch_identifier=entry["batch"],
                validation_success=entry["success"],
                asset_name=entry["suite"],
                expectation_suite_filepath=suite_page_path(Path(), entry["suite"]).as_posix(),
            )
        )
    links["validations_links"] = validations
    html = DefaultJinjaIndexPageView().render(SiteIndexPageRenderer.render(links))
    _write_page(docs_dir, docs_dir / "index.html", html)


def _save_state(docs_dir: Path, state: dict[str, Any]) -> None:
    _write(docs_dir / STATE_FILE, json.dumps(state, indent=1, sort_keys=True))


def ensure_suite_pages(docs_dir: Path, suites: Iterable[gx.ExpectationSuite]) -> list[Path]:
    """Render the pages of the suites that changed (or lack one) and, if any did, the index.

    Returns the suite pages, in the order of `suites`.
    """
    with _DOCS_LOCK:
        docs_dir.mkdir(parents=True, exist_ok=True)
        _copy_static(docs_dir)
        state = _read_state(docs_dir)
        pages, changed = [], False
        for suite in suites:
            page = suite_page_path(docs_dir, suite.name)
            mark = fingerprint(suite)
            if state["suites"].get(suite.name) != mark or not page.exists():
                _write_page(docs_dir, page, _render_suite(suite))
                state["suites"][suite.name] = mark
                changed = True
            pages.append(page)
        if changed or not (docs_dir / "index.html").exists():
            _save_state(docs_dir, state)
            _render_index(docs_dir, state)
        return pages


def _safe(part: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in part) or "_"


def write_validation_page(
    docs_dir: Path, suite_name: str, result: ExpectationSuiteValidationResult
) -> Path:
    """Render a validation result page (GX's layout) and list it in the index."""
    with _DOCS_LOCK:
        run_id = result.meta["run_id"]
        run_name, run_time = run_id.to_tuple()
        batch = _safe(str(result.batch_id or "batch"))
        rel = Path(
            "validations", *suite_name.split("."), _safe(run_name), run_time, f"{batch}.html"
        )
        _write_page(docs_dir, docs_dir / rel, _render_validation(result))
        state = _read_state(docs_dir)
        entries = [e for e in state["validations"] if e["path"] != rel.as_posix()]
        entries.insert(
            0,
            {
                "suite": suite_name,
                "path": rel.as_posix(),
                "run_name": run_name,
                "run_time": run_time,
                "batch": batch,
                "success": bool(result.success),
            },
        )
        for old in entries[MAX_VALIDATION_PAGES:]:
            (docs_dir / old["path"]).unlink(missing_ok=True)
        state["validations"] = entries[:MAX_VALIDATION_PAGES]
        _save_state(docs_dir, state)
        _render_index(docs_dir, state)
        return docs_dir / rel


def build_docs(
    docs_dir: Path,
    suite: gx.ExpectationSuite,
    result: ExpectationSuiteValidationResult | None,
) -> DocsPages:
    """The docs of one check run: the suite page (rendered if stale) and, when an expectation
    failed, the validation result page."""
    (suite_page,) = ensure_suite_pages(docs_dir, [suite])
    validation_page = None
    if result is not None and not result.success:
        validation_page = write_validation_page(docs_dir, suite.name, result)
    return DocsPages(docs_dir / "index.html", suite_page, validation_page)
