"""The daily KPI report: one static HTML page drawn from a published serving.duckdb.

Written with each publish into the version folder (`versions/v<N>/report.html`) and swapped in
at the top of SERVING_DIR with the database (`report.html`), so the report always shows the
publish next to it; rollback brings the version's report back too. See docs/bi.md.

    python -m orchestration.report --serving-dir data/serving --out /tmp/report.html
"""

from __future__ import annotations

from pathlib import Path

from orchestration.report import charts, data, kpis, page

REPORT_FILE = "report.html"


def build_report(database: Path) -> str:
    """The report page for the publish in `database` (opened read-only)."""
    report_data = data.load(database)
    end = report_data.last_date
    if end is None:
        raise ValueError(f"{database}: marts.daily_sales is empty, nothing to report")
    return page.render(
        report_data, kpis.headlines(report_data), charts.all_charts(report_data, end)
    )


def write_report(database: Path, out: Path) -> Path:
    """Build the report and write it to `out` atomically (see page.write_atomic)."""
    page.write_atomic(out, build_report(database))
    return out
