"""Batch ingestion: many PDFs, worker processes, a sha256 manifest, one transaction per report.

Workers hash and extract (CPU-bound, no database); the parent owns the database. A worker hashes its
file first and asks the parent whether it is settled (the ``reports`` table, read only, and the files
already claimed in this batch); only then does it extract. So nothing reads the whole batch before the
first result, and every file is read by one process only. The parent writes each report in one
transaction as it arrives, so a kill mid-batch loses at most the report being written — and that one
not partially — and a re-run skips what was committed. Each write checks again, under the ingest lock
(:mod:`ingestion.lock`), what is stored: another ``nianbao ingest`` on the same home may have written the
same file meanwhile (then it is skipped) or another report of its company-year (then it is a conflict).

A bad file never stops the batch: a failure is that file's result; a worker that dies (a crash inside
pdfium) is replaced and only its file is reported failed; a worker that runs past the per-file time
limit (``timeout_s``: camelot or pdfium hung on a page) is killed with SIGKILL — a hung C call cannot be
interrupted any other way — and replaced, and its file is reported ``timed out after N s``.

The jobs (:func:`hash_job`, :func:`extract_job`), the :class:`Manifest` and :class:`Outcomes` are the same
on a Ray cluster (:mod:`ingestion.ray_batch`): only who runs the jobs differs.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from ingestion.extract import ReportExtraction, extract_report, file_sha256
from ingestion.lock import OnWait
from ingestion.pdf_text import PdfError
from ingestion.pipeline import FAILED, SKIPPED, IngestResult, commit_extraction, skipped_result
from ingestion.tables import preload as preload_tables
from understanding.romanized import preload as preload_romanization
from knowledge.configuration import Settings
from knowledge.store import Store

OnResult = Callable[[IngestResult], None]
# An extraction → the one to write (the capacity benchmark gives each copy of a report its own company-year).
BeforeWrite = Callable[[ReportExtraction], ReportExtraction]

DEFAULT_TIMEOUT_S = 300.0
CRASHED = "worker process crashed while reading this file"


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


def timed_out_reason(timeout_s: float) -> str:
    return f"timed out after {timeout_s:g} s"


def hash_job(path: str) -> tuple[str | None, str | None]:
    """Runs in a worker: (sha256, None) or (None, why the file cannot be read)."""
    try:
        return file_sha256(path), None
    except FileNotFoundError:
        return None, "file not found"
    except IsADirectoryError:
        return None, "cannot read file (is a directory)"
    except OSError as exc:
        return None, f"cannot read file ({exc.strerror or exc})"


def extract_job(path: str, sha: str, trust_content: bool) -> tuple[ReportExtraction | None, str | None, float, float]:
    """Runs in a worker: (extraction, failure reason, seconds, peak RSS MiB of the worker)."""
    t0 = time.perf_counter()
    try:
        ex, reason = extract_report(path, sha, trust_content=trust_content), None
    except PdfError as exc:
        ex, reason = None, str(exc)
    except Exception as exc:  # an extractor bug on one file is that file's failure
        ex, reason = None, f"extraction error: {type(exc).__name__}: {exc}"
    return ex, reason, time.perf_counter() - t0, peak_rss_mb()


class LazyStore:
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


class Manifest:
    """The parent's answer to a worker's "I have file F with sha256 S: extract it?" — from the ``reports``
    table (read only; the writes are the reports' own transactions) and the files claimed in this batch —
    and the one place that commits, keeping to one report per company-year within the batch too."""

    def __init__(self, lazy: LazyStore, force: bool, trust_content: bool, on_wait: OnWait | None,
                 before_write: BeforeWrite | None = None):
        self.lazy, self.force, self.trust_content, self.on_wait = lazy, force, trust_content, on_wait
        self.before_write = before_write
        self.claimed: set[str] = set()
        self.written: dict[tuple[str, int], str] = {}  # company-year → the file of this batch stored for it

    def decide(self, path: Path, sha: str) -> IngestResult | None:
        """A skipped result when the file is settled, else None: extract it."""
        if sha in self.claimed:
            return IngestResult(str(path), SKIPPED, "same file as another in this batch")
        self.claimed.add(sha)
        existing = self.lazy.get().report_by_sha256(sha) if self.lazy.exists() else None
        if existing and existing.get("status") == "ok" and not self.force:
            return skipped_result(path, existing)
        return None

    def finish(self, path: Path, job, hash_s: float = 0.0) -> IngestResult:
        ex, reason, seconds, rss = job
        if ex is None:
            return IngestResult(str(path), FAILED, reason, seconds=hash_s + seconds, peak_rss_mb=rss)
        if self.before_write:
            ex = self.before_write(ex)
        key = (ex.identity.code, ex.identity.year)
        if key in self.written:  # even --force replaces only what was stored before this batch
            return IngestResult(str(path), FAILED, f"{key[0]} {key[1]} 在本批中已有另一份年报 {self.written[key]}",
                                key[0], key[1], seconds=hash_s + seconds, peak_rss_mb=rss)
        result = commit_extraction(self.lazy.get(), ex, force=self.force, peak_rss_mb=rss,
                                   settings=self.lazy.settings, on_wait=self.on_wait)
        if result.ok:
            self.written[key] = path.name
        result.seconds = hash_s + seconds + result.seconds
        return result


class Outcomes:
    """One result per file, kept in the files' order; ``on_result`` hears each as it is settled."""

    def __init__(self, files: list[Path], on_result: OnResult | None):
        self.files, self.on_result = files, on_result
        self.results: dict[int, IngestResult] = {}

    def emit(self, i: int, result: IngestResult) -> None:
        self.results[i] = result
        if self.on_result:
            self.on_result(result)

    def ordered(self) -> list[IngestResult]:
        return [self.results[i] for i in range(len(self.files))]


def check_timeout(timeout_s: float | None) -> None:
    if timeout_s is not None and timeout_s <= 0:
        raise ValueError("timeout_s must be positive (or None for no limit)")


def ingest_paths(settings: Settings, paths: Iterable[str | Path], *, workers: int = 1, force: bool = False,
                 trust_content: bool = False, on_result: OnResult | None = None,
                 timeout_s: float | None = DEFAULT_TIMEOUT_S, on_wait: OnWait | None = None) -> list[IngestResult]:
    """Ingest files and directories; returns one result per file (ok / skipped / failed + reason), in the
    order of :func:`collect_pdfs`; ``on_result`` gets each as it is settled. ``force``, ``trust_content``
    and ``on_wait`` mean what they do for :func:`ingestion.pipeline.ingest_file`; a second file of one
    company-year in the same batch fails, even with ``force``.

    ``timeout_s`` is the limit per file, for reading (hashing) it and again for extracting it; a file
    past it is reported failed and its worker killed. ``timeout_s=None`` with ``workers=1`` extracts in
    this process (no limit: for debugging and profiling)."""
    check_timeout(timeout_s)
    files = collect_pdfs(paths)
    manifest = Manifest(LazyStore(settings), force, trust_content, on_wait)
    outcomes = Outcomes(files, on_result)
    emit = outcomes.emit
    if timeout_s is None and workers <= 1:
        for i, path in enumerate(files):
            t0 = time.perf_counter()
            sha, reason = hash_job(str(path))
            hash_s = time.perf_counter() - t0  # the job's own seconds are the extraction's: added, not again
            if sha is None:
                emit(i, IngestResult(str(path), FAILED, reason))
                continue
            skipped = manifest.decide(path, sha)
            if skipped:
                emit(i, skipped)
                continue
            emit(i, manifest.finish(path, extract_job(str(path), sha, trust_content), hash_s))
    elif files:
        _Pool(files, min(max(workers, 1), len(files)), timeout_s, manifest, emit).run()
    return outcomes.ordered()


# The worker processes ----------------------------------------------------------------------------------
# Each worker has a pipe of its own and does one file at a time:
#   parent → path;  worker → ("hashed", sha, reason);  parent → True (extract) / False (settled);
#   worker → ("done", job).   A None from the parent, or the parent's end closing, ends the worker.


def _worker_main(conn, inherited_fds: tuple[int, ...], trust_content: bool) -> None:
    # A forked child holds copies of the parent's ends of every worker pipe, its own included: close them,
    # or a worker never sees end-of-file when the parent dies, and lingers.
    for fd in inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends the workers
    try:
        while (path := conn.recv()) is not None:
            t0 = time.perf_counter()
            sha, reason = hash_job(path)
            conn.send(("hashed", sha, reason, time.perf_counter() - t0))
            if sha is not None and conn.recv():
                conn.send(("done", extract_job(path, sha, trust_content)))
    except (EOFError, OSError):  # the parent is gone
        pass


@dataclass
class _Slot:
    proc: multiprocessing.process.BaseProcess
    conn: object
    index: int | None = None  # the file it works on
    deadline: float | None = None
    hash_s: float = 0.0


class _Pool:
    def __init__(self, files: list[Path], size: int, timeout_s: float | None, manifest: Manifest,
                 emit: Callable[[int, IngestResult], None]):
        self.files, self.size, self.timeout_s = files, size, timeout_s
        self.manifest, self.emit = manifest, emit
        self.fork = sys.platform.startswith("linux")
        self.ctx = multiprocessing.get_context("fork" if self.fork else "spawn")
        self.pending = deque(range(len(files)))
        self.slots: list[_Slot] = []

    # life cycle
    def _start(self) -> _Slot:
        parent_end, child_end = self.ctx.Pipe()
        inherited = tuple(s.conn.fileno() for s in self.slots) + (parent_end.fileno(),) if self.fork else ()
        proc = self.ctx.Process(target=_worker_main, args=(child_end, inherited, self.manifest.trust_content),
                                daemon=True, name="nianbao-ingest-worker")
        proc.start()
        child_end.close()
        slot = _Slot(proc, parent_end)
        self.slots.append(slot)
        return slot

    def _retire(self, slot: _Slot, *, kill: bool) -> None:
        if not kill:
            slot.proc.join(timeout=5)
        if slot.proc.is_alive():
            slot.proc.kill()
            # One stuck in uninterruptible I/O (a dead network mount) outlives even SIGKILL for a while:
            # it is left behind rather than allowed to stall the batch.
            slot.proc.join(timeout=5)
        slot.conn.close()
        self.slots.remove(slot)

    def _deadline(self) -> float | None:
        return time.monotonic() + self.timeout_s if self.timeout_s is not None else None

    def _assign(self, slot: _Slot) -> None:
        """Give ``slot`` the next file, or stop it when there is none."""
        slot.index, slot.deadline, slot.hash_s = None, None, 0.0
        if not self.pending:
            try:
                slot.conn.send(None)
            except OSError:
                pass
            self._retire(slot, kill=False)
            return
        i = self.pending.popleft()
        try:
            slot.conn.send(str(self.files[i]))
        except OSError:  # it died while idle: a fresh one takes the file
            self.pending.appendleft(i)
            self._retire(slot, kill=True)
            self._assign(self._start())
            return
        slot.index, slot.deadline = i, self._deadline()

    def _settle(self, slot: _Slot, result: IngestResult, *, kill: bool = False) -> None:
        self.emit(slot.index, result)
        if kill:
            self._retire(slot, kill=True)
            if self.pending:
                self._assign(self._start())
        else:
            self._assign(slot)

    # events
    def _message(self, slot: _Slot, msg) -> None:
        path = self.files[slot.index]
        if msg[0] == "hashed":
            _, sha, reason, slot.hash_s = msg
            if sha is None:
                return self._settle(slot, IngestResult(str(path), FAILED, reason))
            skipped = self.manifest.decide(path, sha)
            try:
                slot.conn.send(skipped is None)
            except OSError:  # it died after hashing (a settled file is still settled: _assign replaces it)
                if skipped is None:
                    return self._crashed(slot)
            if skipped:
                return self._settle(slot, skipped)
            slot.deadline = self._deadline()  # the time limit again, for the extraction
        else:
            self._settle(slot, self.manifest.finish(path, msg[1], slot.hash_s))

    def _crashed(self, slot: _Slot) -> None:
        slot.proc.join(timeout=5)
        code = slot.proc.exitcode
        detail = f" (signal {-code})" if code is not None and code < 0 else f" (exit code {code})" if code else ""
        self._settle(slot, IngestResult(str(self.files[slot.index]), FAILED, CRASHED + detail), kill=True)

    def run(self) -> None:
        if self.fork:
            # Forked workers inherit camelot's imports (a second: opencv, pandas) and pypinyin's dictionaries (half
            # a second, for a company's Latin aliases) instead of each paying them, and again every worker that
            # replaces a killed one.
            preload_tables()
            preload_romanization()
        try:
            for _ in range(self.size):
                self._assign(self._start())
            while busy := [s for s in self.slots if s.index is not None]:
                deadlines = [s.deadline for s in busy if s.deadline is not None]
                wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], wait_s))
                for slot in busy:
                    if slot.index is None or slot not in self.slots:
                        continue
                    if slot.conn in ready:
                        try:
                            msg = slot.conn.recv()
                        except (EOFError, OSError):
                            self._crashed(slot)
                            continue
                        self._message(slot, msg)
                    elif slot.proc.sentinel in ready:
                        self._crashed(slot)
                now = time.monotonic()
                for slot in [s for s in self.slots if s.index is not None and s.deadline is not None]:
                    # A result already in the pipe is not a hang: the parent was busy writing a report.
                    if now >= slot.deadline and not slot.conn.poll():
                        self._settle(slot, IngestResult(str(self.files[slot.index]), FAILED,
                                                        timed_out_reason(self.timeout_s)), kill=True)
        finally:
            for slot in list(self.slots):
                self._retire(slot, kill=True)
