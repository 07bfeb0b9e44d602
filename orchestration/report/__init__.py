"""The daily KPI report: one static HTML page drawn from a published serving.duckdb.

Written with each publish into its version folder and swapped in with the database, so the
report always shows the publish next to it, also after a rollback. See docs/bi.md."""

from pathlib import Path

from orchestration import serving
from orchestration.report import charts, data, kpis, page


def write_report(database: Path, out: Path) -> None:
    """Write the report of the publish in `database` (opened read-only) to `out`, atomically."""
    report_data = data.load(database)
    if (end := report_data.last_date) is None:
        raise ValueError(f"{database}: marts.daily_sales is empty, nothing to report")
    headlines, all_charts = kpis.headlines(report_data, end), charts.all_charts(report_data, end)
    text = page.render(report_data, headlines, all_charts)
    serving.write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
