"""The ingestion benchmark: seconds per report, pages/s per worker, peak memory per worker, and in the
same run the floor — plain pypdfium2 page-text extraction of the same files — with the ratio."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.batch import collect_pdfs, ingest_paths
from ingestion.pdf_text import page_text_floor
from ingestion.pipeline import IngestResult
from knowledge.configuration import Settings

TARGET_RATIO = 10.0


@dataclass
class BenchReport:
    files: int
    pages: int
    workers: int
    floor_s: float
    wall_s: float
    results: list[IngestResult] = field(default_factory=list)

    @property
    def ok(self) -> list[IngestResult]:
        return [r for r in self.results if r.ok]

    @property
    def cpu_s(self) -> float:
        """Seconds of worker time (extraction + write), summed over reports."""
        return sum(r.seconds for r in self.ok)

    @property
    def ratio(self) -> float:
        # Like for like: one worker's time per report against one process reading the same pages.
        return self.cpu_s / self.floor_s if self.floor_s else float("inf")

    def lines(self) -> list[str]:
        out = []
        for r in self.results:
            t = r.timings
            out.append(
                f"{Path(r.path).name[:60]:60} {r.status:7} {r.pages:4d} pages {r.seconds:6.2f} s "
                f"{(r.pages / r.seconds if r.seconds else 0):6.1f} pages/s  peak RSS {r.peak_rss_mb or 0:6.0f} MiB"
                + (f"  (text {t.get('text_s', 0):.2f} s, tables {t.get('tables_s', 0):.2f} s, parse {t.get('parse_s', 0):.2f} s)" if t else "")
                + (f"  {r.reason}" if r.reason else "")
            )
        ok = self.ok
        pages = sum(r.pages for r in ok)
        out += [
            f"reports: {len(ok)}/{self.files} ok, {pages} pages, {self.workers} worker(s), wall {self.wall_s:.2f} s",
            f"seconds per report: {self.cpu_s / len(ok) if ok else 0:.2f} (worker time), "
            f"{self.wall_s / len(ok) if ok else 0:.2f} (wall / reports)",
            f"pages/s per worker: {pages / self.cpu_s if self.cpu_s else 0:.1f}",
            f"peak RSS per worker: {max((r.peak_rss_mb or 0) for r in ok) if ok else 0:.0f} MiB",
            f"floor (pypdfium2 page text, same files, 1 process): {self.floor_s:.2f} s, "
            f"{self.pages / self.floor_s if self.floor_s else 0:.1f} pages/s",
            f"ratio ingestion/floor: {self.ratio:.1f}x (target <= {TARGET_RATIO:.0f}x) "
            + ("OK" if self.ratio <= TARGET_RATIO else "OVER TARGET"),
        ]
        return out


def run_bench(paths, *, workers: int = 1, home: Path | None = None) -> BenchReport:
    files = collect_pdfs(paths)
    t0 = time.perf_counter()
    pages = sum(page_text_floor(f) for f in files)
    floor_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-") as tmp:
        # A fresh database, so no file is skipped as already ingested.
        settings = Settings(home=home or Path(tmp))
        t1 = time.perf_counter()
        results = ingest_paths(settings, files, workers=workers, force=True)
        wall_s = time.perf_counter() - t1
    return BenchReport(len(files), pages, workers, floor_s, wall_s, results)
