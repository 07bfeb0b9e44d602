"""The GX Data Docs of the checks, built by GX into GX_DOCS_DIR and made readable offline.

GX's site layout: `index.html`, `expectations/<schema>/<table>.html` per suite,
`validations/<schema>/<table>/<run>/<time>/<batch>.html` per validation, GX's `static/`. GX's
pages load bootstrap, jquery, vega... from CDNs; every page built here is rewritten to load the
copies vendored in `docs_static/` (copied to `static/vendor/`). The newest MAX_RESULTS
validation results are kept; GX's index builder removes the pages of older ones.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestration.quality.gx_validation import (
    GX_LOCK,
    SuiteFile,
    gx_context,
    load_suite,
    register,
)

SITE = "local_site"
MAX_RESULTS = 200
VENDOR_DIR = Path(__file__).parent / "docs_static"
_CDN_URL = re.compile(r'(src|href)="https://([^"]+)"')
_GX_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+/[^\"')]*")
_SRI = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')  # refused for file:// pages


def offline_html(html: str, static: str) -> str:
    """`html` loading the vendored copies of its CDN files and GX's local logo; `static` is the
    site's static/ folder relative to the page."""

    def local(match: re.Match[str]) -> str:
        path = match[2] if Path(match[2]).suffix else f"{match[2]}.js"
        found = (VENDOR_DIR / path).is_file()
        return f'{match[1]}="{static}vendor/{path}"' if found else match[0]

    html = _GX_LOGO.sub(f"{static}images/logo-long.png", _CDN_URL.sub(local, html))
    return _SRI.sub("", html)


def _make_offline(docs_dir: Path, pages: Iterable[Path]) -> None:
    shutil.copytree(VENDOR_DIR, docs_dir / "static" / "vendor", dirs_exist_ok=True)
    for page in pages:
        depth = len(page.relative_to(docs_dir).parts) - 1
        page.write_text(offline_html(page.read_text("utf-8"), "../" * depth + "static/"), "utf-8")


def page_path(docs_dir: Path, resource_id: Any) -> Path:
    """The file of a suite's or a validation result's page."""
    urls = gx_context(docs_dir).get_docs_sites_urls(
        resource_identifier=resource_id, site_name=SITE, only_if_exists=False
    )
    return Path(urllib.request.url2pathname(urllib.parse.urlparse(urls[0]["site_url"]).path))


def _build(docs_dir: Path, resource_ids: list[Any]) -> dict[Any, Path]:
    context = gx_context(docs_dir)
    context.build_data_docs(site_names=[SITE], resource_identifiers=resource_ids)
    pages = {resource_id: page_path(docs_dir, resource_id) for resource_id in resource_ids}
    _make_offline(docs_dir, [docs_dir / "index.html", *pages.values()])
    return pages


def build_docs(docs_dir: Path, result_ids: list[Any]) -> dict[Any, Path]:
    """Render the pages of these validation results and the index; drop the oldest results
    beyond MAX_RESULTS. Returns each result's page."""
    with GX_LOCK:
        store = gx_context(docs_dir).validation_results_store
        keys = sorted(store.list_keys(), key=lambda key: key.run_id.run_time, reverse=True)
        for key in keys[MAX_RESULTS:]:
            store.remove_key(key)
        return _build(docs_dir, result_ids)


def build_suite_pages(docs_dir: Path, suites: Iterable[SuiteFile]) -> None:
    """Add every suite to the context, so that the index lists it, and render the suite pages
    that are missing or older than their file."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    with GX_LOCK:
        stale = []
        for suite in suites:
            register(gx_context(docs_dir), load_suite(suite))
            page = page_path(docs_dir, ExpectationSuiteIdentifier(suite.name))
            if not page.exists() or page.stat().st_mtime < suite.path.stat().st_mtime:
                stale.append(ExpectationSuiteIdentifier(suite.name))
        if stale or not (docs_dir / "index.html").exists():
            _build(docs_dir, stale)
