"""CLI: python -m orchestration.sample --scale S --seed N --out DIR [--days D] [--start DATE]."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from orchestration.sample.generator import clean, generate


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m orchestration.sample",
        description="Generate the seeded sample landing zone (all feeds + _manifest.json).",
    )
    p.add_argument("--scale", type=float, default=0.01, help="1 = a year of ~1M orders")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, required=True, help="landing root to write into")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument(
        "--clean", action="store_true", help="first delete OUT's feed folders and manifest"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    began = time.perf_counter()
    if args.clean:
        clean(args.out)
    manifest = generate(args.out, args.scale, args.seed, args.days, args.start)
    seconds = time.perf_counter() - began
    out = sys.stdout
    out.write(
        f"sample: scale={args.scale} seed={args.seed} days={args.days} start={args.start} "
        f"-> {args.out}\n"
    )
    for feed, rows in manifest["rows"].items():
        out.write(f"  {feed:<24}{rows:>12,} rows {manifest['files'][feed]:>6} files\n")
    total_rows = sum(manifest["rows"].values())
    total_files = sum(manifest["files"].values())
    out.write(f"  {'total':<24}{total_rows:>12,} rows {total_files:>6} files in {seconds:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
