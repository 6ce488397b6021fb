"""Ingestion speed against the floor (plain pypdfium2 page text of the same files), in one run.

    .venv/bin/python benchmarks/bench_ingest.py [PDF or dir ...] [--workers N]

Same figures as ``nianbao bench ingest``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.bench import run_bench  # noqa: E402

DEFAULT = [REPO / "ingestion" / "samples", REPO / "tests" / "data" / "reports"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    report = run_bench(args.paths, workers=args.workers)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
