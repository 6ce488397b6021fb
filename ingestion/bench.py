"""The ingestion benchmark: seconds per report, pages/s per worker, peak memory per worker, and in the
same run the floor — plain pypdfium2 page-text extraction of the same files — with the ratio."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.batch import collect_pdfs, ingest_paths
from ingestion.pdf_text import page_text_floor
from ingestion.pipeline import IngestResult
from knowledge.configuration import Settings

TARGET_RATIO = 3.0  # per report, one worker against one process reading the same pages (issue 14)


@dataclass
class BenchReport:
    files: int
    pages: int
    workers: int
    floor_s: float
    wall_s: float
    results: list[IngestResult] = field(default_factory=list)
    floors: dict[str, float] = field(default_factory=dict)  # file → its own floor, seconds
    floors_cpu: dict[str, float] = field(default_factory=dict)  # file → its floor's CPU seconds

    def cpu_ratio(self, r: IngestResult) -> float | None:
        """CPU seconds of the report (its extraction in the worker + its write) over its floor's: what a
        machine shared with other work does not blur."""
        cpu = r.timings.get("cpu_s")
        floor = self.floors_cpu.get(r.path)
        return (cpu + r.timings.get("write_cpu_s", 0.0)) / floor if cpu is not None and floor else None

    @property
    def ok(self) -> list[IngestResult]:
        return [r for r in self.results if r.ok]

    @property
    def cpu_s(self) -> float:
        """Seconds of worker time (extraction + write), summed over reports."""
        return sum(r.seconds for r in self.ok)

    @property
    def ratio(self) -> float:
        """CPU seconds of every report (extraction + write) over the floor's, or, without CPU figures, worker
        seconds over the floor's seconds. Like for like: one worker against one process reading the same pages."""
        cpu = [(r.timings["cpu_s"] + r.timings.get("write_cpu_s", 0.0), self.floors_cpu[r.path]) for r in self.ok
               if r.timings.get("cpu_s") is not None and self.floors_cpu.get(r.path)]
        if cpu and len(cpu) == len(self.ok):
            return sum(c for c, _ in cpu) / sum(f for _, f in cpu)
        return self.cpu_s / self.floor_s if self.floor_s else float("inf")

    def lines(self) -> list[str]:
        out = []
        for r in self.results:
            t = r.timings
            floor = self.floors.get(r.path)
            cpu_ratio = self.cpu_ratio(r) if r.ok else None
            out.append(
                f"{Path(r.path).name[:60]:60} {r.status:7} {r.pages:4d} pages {r.seconds:6.2f} s "
                f"{(r.pages / r.seconds if r.seconds else 0):6.1f} pages/s  peak RSS {r.peak_rss_mb or 0:6.0f} MiB"
                + (f"  (text {t.get('text_s', 0):.2f} s, positioned {t.get('positioned_s', 0):.2f} s, camelot "
                   f"{t.get('tables_s', 0):.2f} s, parse {t.get('parse_s', 0):.2f} s)" if t else "")
                + (f"  floor {floor:.2f} s, ratio {r.seconds / floor:.1f}x" if floor and r.ok else "")
                + (f"; CPU {t['cpu_s'] + t.get('write_cpu_s', 0):.2f} s / {self.floors_cpu[r.path]:.2f} s = "
                   f"{cpu_ratio:.1f}x" if cpu_ratio is not None else "")
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
        cpu = [(Path(r.path).name, x) for r in ok if (x := self.cpu_ratio(r)) is not None]
        if cpu:
            out.append("ratio per report, CPU seconds: " + ", ".join(f"{name[:40]} {x:.1f}x" for name, x in cpu)
                       + (" — all OK" if all(x <= TARGET_RATIO for _, x in cpu) else " — OVER TARGET"))
        return out


def _floor(path: Path) -> tuple[int, float, float]:
    """Pages, wall and CPU seconds of the floor on one file."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    pages = page_text_floor(path)
    return pages, time.perf_counter() - t0, time.process_time() - cpu0


def run_bench(paths, *, workers: int = 1, home: Path | None = None) -> BenchReport:
    """With one worker, floor and ingestion run in this one process, each report's ingestion right after its
    floor, both warmed first by an uncounted pass over the first file (which also creates the database's
    schema): the steady state of a long batch's worker, like for like. A freshly forked worker pays start-up
    on its first report (pdfium's and camelot's first pages, copy-on-write faults on what it inherited): once
    per batch, not once per report. With more workers, the floors are read first and the process pool
    ingests, as ``nianbao ingest`` does."""
    files = collect_pdfs(paths)
    pages, floors, floors_cpu = 0, {}, {}
    with tempfile.TemporaryDirectory(prefix="nianbao-bench-") as tmp:
        # A fresh database, so no file is skipped as already ingested.
        settings = Settings(home=home or Path(tmp))
        results: list[IngestResult] = []
        if workers == 1 and files:
            page_text_floor(files[0])
            ingest_paths(settings, files[:1], workers=1, force=True, timeout_s=None)  # creates the schema too
            wall_s = 0.0
            for f in files:
                n, floors[str(f)], floors_cpu[str(f)] = _floor(f)
                pages += n
                t1 = time.perf_counter()
                results += ingest_paths(settings, [f], workers=1, force=True, timeout_s=None)
                wall_s += time.perf_counter() - t1
        else:
            for f in files:
                n, floors[str(f)], floors_cpu[str(f)] = _floor(f)
                pages += n
            t1 = time.perf_counter()
            results = ingest_paths(settings, files, workers=workers, force=True)
            wall_s = time.perf_counter() - t1
    return BenchReport(len(files), pages, workers, sum(floors.values()), wall_s, results, floors, floors_cpu)


def median_lines(runs: list[BenchReport]) -> list[str]:
    """Over repeated runs (each with its own floor): the median of the overall ratio and of each report's CPU
    ratio. One run's floor is a fraction of a second per file, so one run's ratios swing by half a unit."""
    overall = statistics.median(r.ratio for r in runs)
    per_report: dict[str, list[float]] = {}
    for run in runs:
        for r in run.ok:
            if (x := run.cpu_ratio(r)) is not None:
                per_report.setdefault(Path(r.path).name, []).append(x)
    medians = {name: statistics.median(xs) for name, xs in per_report.items()}
    ok = overall <= TARGET_RATIO and all(x <= TARGET_RATIO for x in medians.values())
    return [f"median over {len(runs)} runs: ratio ingestion/floor {overall:.1f}x; per report, CPU seconds: "
            + ", ".join(f"{name[:40]} {x:.1f}x" for name, x in medians.items())
            + (" — all OK" if ok else " — OVER TARGET")]
