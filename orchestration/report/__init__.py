"""The daily KPI report: one static HTML page drawn from a published serving.duckdb.

Written with each publish into the version folder (`versions/v<N>/report.html`) and swapped in
at the top of SERVING_DIR with the database (`report.html`), so the report always shows the
publish next to it; rollback brings the version's report back too. See docs/bi.md.

    python -m orchestration.report --serving-dir data/serving --out /tmp/report.html
"""

from __future__ import annotations

from pathlib import Path

from orchestration.report import charts, data, kpis, page


def write_report(database: Path, out: Path) -> None:
    """Build the report of the publish in `database` (opened read-only) and write it to `out`
    atomically (see page.write_atomic)."""
    report_data = data.load(database)
    if (end := report_data.last_date) is None:
        raise ValueError(f"{database}: marts.daily_sales is empty, nothing to report")
    headlines, all_charts = kpis.headlines(report_data), charts.all_charts(report_data, end)
    page.write_atomic(out, page.render(report_data, headlines, all_charts))
