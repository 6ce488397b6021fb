"""Field accuracy of PDF ingestion against the hand-made truth lists, per report and per statement.

    .venv/bin/python benchmarks/ingest_accuracy.py            # the bundled reports (ingestion/samples, tests/data/reports)
    .venv/bin/python benchmarks/ingest_accuracy.py a.pdf b.pdf --truth-dir tests/data/truth
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.accuracy import load_truth, score  # noqa: E402
from ingestion.filenames import parse_filename  # noqa: E402
from ingestion.pipeline import ingest_file  # noqa: E402
from knowledge.store import Store  # noqa: E402

DEFAULT_PDFS = [*sorted((REPO / "ingestion" / "samples").glob("*.pdf")), *sorted((REPO / "tests" / "data" / "reports").glob("*.pdf"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pdfs", nargs="*", type=Path, default=DEFAULT_PDFS)
    ap.add_argument("--truth-dir", type=Path, default=REPO / "tests" / "data" / "truth")
    args = ap.parse_args()
    total = correct = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/accuracy.sqlite")
        for pdf in args.pdfs:
            ident = parse_filename(pdf)
            truth_path = args.truth_dir / f"{ident.code}_{ident.year}.json"
            if not truth_path.exists():
                print(f"{pdf.name}: no truth list at {truth_path}")
                continue
            result = ingest_file(store, pdf)
            if not result.ok:
                print(f"{pdf.name}: {result.status} {result.reason}")
                continue
            acc = score(store, load_truth(truth_path), f"{ident.code}_{ident.year} ({ident.short_name})")
            total += acc.total
            correct += acc.correct
            print("\n".join(acc.lines()))
    if total:
        print(f"overall: {correct}/{total} = {correct / total:.2%}")
    return 0 if total and correct / total >= 0.99 else 1


if __name__ == "__main__":
    raise SystemExit(main())
