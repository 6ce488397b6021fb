"""Batch ingestion: many PDFs, a process pool, a sha256 manifest, one transaction per report.

Workers only extract (CPU-bound, no database); the parent writes each report in one transaction as it
arrives, so a kill mid-batch loses at most the report being written — and that one not partially — and
a re-run skips what was committed. A bad file, or a worker that dies on one, never stops the batch.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from agent.configuration import Settings
from agent.store import Store
from ingestion.extract import ReportExtraction, extract_report, file_sha256
from ingestion.pdf_text import PdfError
from ingestion.pipeline import FAILED, SKIPPED, IngestResult, commit_extraction

OnResult = Callable[[IngestResult], None]


def collect_pdfs(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given (a non-PDF named explicitly still gets its failure line); directories: their PDFs,
    recursively, in name order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() == ".pdf")
        else:
            out.append(p)
    seen, unique = set(), []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def _extract_job(path: str, sha: str) -> tuple[ReportExtraction | None, str | None, float, float]:
    """Runs in a worker: (extraction, failure reason, seconds, peak RSS MiB of the worker)."""
    t0 = time.perf_counter()
    try:
        ex, reason = extract_report(path, sha), None
    except PdfError as exc:
        ex, reason = None, str(exc)
    except Exception as exc:  # an extractor bug on one file is that file's failure
        ex, reason = None, f"extraction error: {type(exc).__name__}: {exc}"
    return ex, reason, time.perf_counter() - t0, peak_rss_mb()


class _LazyStore:
    """Opens the database only when there is something to read or write, so a batch of nothing but bad
    files leaves no database behind."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: Store | None = None

    def exists(self) -> bool:
        url = self.settings.db_url
        if not url.startswith("sqlite:///"):
            return True
        return Path(url[len("sqlite:///"):]).exists()

    def get(self) -> Store:
        if self._store is None:
            self.settings.ensure_home()
            self._store = Store(self.settings.db_url)
        return self._store


def _plan(paths: list[Path], lazy: _LazyStore, force: bool) -> tuple[list[tuple[Path, str, int | None]], list[IngestResult]]:
    """Which files to extract (path, sha256, id of an earlier ingestion) and which are settled already."""
    todo, settled = [], []
    batch_shas: set[str] = set()
    store = lazy.get() if lazy.exists() else None
    for p in paths:
        try:
            sha = file_sha256(p)
        except FileNotFoundError:
            settled.append(IngestResult(str(p), FAILED, "file not found"))
            continue
        except OSError as exc:
            settled.append(IngestResult(str(p), FAILED, f"cannot read file ({exc.strerror or exc})"))
            continue
        if sha in batch_shas:
            settled.append(IngestResult(str(p), SKIPPED, "same file as another in this batch"))
            continue
        batch_shas.add(sha)
        existing = store.report_by_sha256(sha) if store else None
        if existing and existing.get("status") == "ok" and not force:
            settled.append(IngestResult(str(p), SKIPPED, "already ingested (same sha256)", existing["company_code"],
                                        existing["year"], existing["id"], existing.get("pages") or 0))
            continue
        todo.append((p, sha, existing["id"] if existing else None))
    return todo, settled


def _finish(lazy: _LazyStore, path: Path, existing_id, job) -> IngestResult:
    ex, reason, seconds, rss = job
    if ex is None:
        return IngestResult(str(path), FAILED, reason, seconds=seconds, peak_rss_mb=rss)
    result = commit_extraction(lazy.get(), ex, existing_id=existing_id, peak_rss_mb=rss, settings=lazy.settings)
    result.seconds = seconds + result.seconds
    return result


def ingest_paths(settings: Settings, paths: Iterable[str | Path], *, workers: int = 1, force: bool = False,
                 on_result: OnResult | None = None) -> list[IngestResult]:
    """Ingest files and directories; returns one result per file (ok / skipped / failed + reason)."""
    lazy = _LazyStore(settings)
    todo, results = _plan(collect_pdfs(paths), lazy, force)
    for r in results:
        if on_result:
            on_result(r)

    def emit(r: IngestResult) -> None:
        results.append(r)
        if on_result:
            on_result(r)

    if workers <= 1 or len(todo) <= 1:
        for path, sha, existing_id in todo:
            emit(_finish(lazy, path, existing_id, _extract_job(str(path), sha)))
        return results

    # A worker that dies (a crash inside pdfium) breaks the pool and every file in flight with it: those
    # files are retried one at a time, each in a pool of its own, so only the culprit is reported failed.
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    retry = []
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
        futures = {pool.submit(_extract_job, str(p), sha): (p, sha, eid) for p, sha, eid in todo}
        for fut in as_completed(futures):
            path, sha, existing_id = futures[fut]
            try:
                job = fut.result()
            except BrokenProcessPool:
                retry.append((path, sha, existing_id))
                continue
            emit(_finish(lazy, path, existing_id, job))
    for path, sha, existing_id in retry:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            try:
                job = pool.submit(_extract_job, str(path), sha).result()
            except BrokenProcessPool:
                emit(IngestResult(str(path), FAILED, "worker process crashed while reading this file"))
                continue
        emit(_finish(lazy, path, existing_id, job))
    return results
