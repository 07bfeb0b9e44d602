"""The GX Data Docs of the checks: GX's site in GX_DOCS_DIR, made readable offline.

`build_docs` has GX render the pages of some validation results and the index, keeps the
newest MAX_RESULTS results (GX drops the pages of the others) and rewrites each page to load
the copies of its CDN files vendored in `docs_static/` (at their URL's path) instead.
"""

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from orchestration.quality.gx_validation import GX_LOCK, SITE, gx_context

MAX_RESULTS = 200
VENDOR_DIR = Path(__file__).parent / "docs_static"
_CDN_URL = re.compile(r'(src|href)="https://([^"]+)"')
_GX_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+/[^\"')]*")
_SRI = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')  # a file:// page cannot check them


def offline_html(html: str, static: str) -> str:
    """`html` loading the vendored files and GX's local logo; `static` is the relative URL of
    the site's static/ folder."""

    def local(match: re.Match[str]) -> str:
        path = match[2] if Path(match[2]).suffix else f"{match[2]}.js"
        vendored = (VENDOR_DIR / path).is_file()
        return f'{match[1]}="{static}vendor/{path}"' if vendored else match[0]

    return _SRI.sub("", _GX_LOGO.sub(f"{static}images/logo-long.png", _CDN_URL.sub(local, html)))


def build_docs(docs_dir: Path, result_ids: list[Any]) -> dict[Any, Path]:
    """Render these validation results' pages and the index; return each result's page."""
    with GX_LOCK:
        context = gx_context(docs_dir)
        store = context.validation_results_store
        keys = sorted(store.list_keys(), key=lambda key: key.run_id.run_time, reverse=True)
        for key in keys[MAX_RESULTS:]:
            store.remove_key(key)
        context.build_data_docs(site_names=[SITE], resource_identifiers=result_ids)
        pages = {}
        for result_id in result_ids:
            (url,) = context.get_docs_sites_urls(resource_identifier=result_id, site_name=SITE)
            pages[result_id] = Path(url2pathname(urlparse(url["site_url"]).path))
        shutil.copytree(VENDOR_DIR, docs_dir / "static" / "vendor", dirs_exist_ok=True)
        for page in [docs_dir / "index.html", *pages.values()]:
            static = "../" * (len(page.relative_to(docs_dir).parts) - 1) + "static/"
            page.write_text(offline_html(page.read_text("utf-8"), static), "utf-8")
        return pages
