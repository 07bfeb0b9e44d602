"""CLI: python -m orchestration.report [--serving-dir DIR] --out FILE"""

import argparse
import sys
from pathlib import Path

from orchestration import serving, settings
from orchestration.report import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.report",
        description="Write the daily KPI report (static HTML) from a published serving folder.",
    )
    parser.add_argument("--serving-dir", type=Path, help="default: env SERVING_DIR, data/serving")
    parser.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    args = parser.parse_args(argv)
    database = (args.serving_dir or settings.get().serving_dir) / serving.DATABASE
    if not database.is_file():
        sys.stderr.write(f"no published database at {database}\n")
        return 2
    write_report(database, args.out)
    sys.stdout.write(f"report written: {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
