"""Batch ingestion on a Ray cluster: the process pool's jobs (:mod:`ingestion.batch`) run as Ray tasks.

Each file takes one in-flight slot: a hash task, then — when the manifest says the file is not settled —
an extraction task (:func:`ingestion.extract.extract_report`, pure, no database). At most ``max_in_flight``
files (default: the cluster's CPUs) are in flight, so each task submitted finds a CPU, its time limit
measures its own work, and results never pile up faster than they are written: back-pressure. The driver
is the single writer: each result is committed as it arrives, one transaction per report, idempotent by
sha256 (:class:`ingestion.batch.Manifest`), so a killed job, run again, skips what was committed.

Failures cost only their file: a bad file's extraction returns its reason (not retried: it would fail
again); a worker that dies (killed, out of memory, a crash inside pdfium, a lost node) has its task
retried by Ray up to ``max_retries`` times, then the file fails; a task past ``timeout_s`` (measured
from its first submission, retries included) is cancelled with ``force`` — its worker killed, since a
hung C call cannot be interrupted any other way — and its file reported ``timed out after N s``.

Every node must read the files at the paths given (a shared filesystem) and have nianbao installed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingestion.batch import (
    CRASHED,
    DEFAULT_TIMEOUT_S,
    BeforeWrite,
    LazyStore,
    Manifest,
    OnResult,
    Outcomes,
    check_timeout,
    collect_pdfs,
    extract_job,
    hash_job,
    timed_out_reason,
)
from ingestion.lock import OnWait
from ingestion.pipeline import FAILED, IngestResult
from knowledge.configuration import Settings
from knowledge.extras import require

DEFAULT_RETRIES = 2  # a worker's death is retried this often; a bad file is not retried at all
HASH, EXTRACT = "hash", "extract"


def timed_hash_job(path: str) -> tuple[str | None, str | None, float]:
    """A Ray task: :func:`ingestion.batch.hash_job` and its seconds."""
    t0 = time.perf_counter()
    return (*hash_job(path), time.perf_counter() - t0)


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray unless it is connected already: to ``address`` (``auto``,
    ``ray://HOST:PORT``, ``HOST:PORT``), else to ``$RAY_ADDRESS``, else to a local Ray started now with
    ``num_cpus`` CPUs (default: all) and no dashboard. True when this call connected (the caller
    disconnects)."""
    require("ray", "ingestion on Ray (nianbao ingest --ray)")
    import ray  # deferred: the ray extra, imported only by a run on Ray

    if ray.is_initialized():
        return False
    # Worker logs stay in the cluster's log files: the driver prints one line per report itself.
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    return True


def ingest_paths_ray(settings: Settings, paths: Iterable[str | Path], *, address: str | None = None,
                     max_in_flight: int | None = None, force: bool = False, trust_content: bool = False,
                     on_result: OnResult | None = None, timeout_s: float | None = DEFAULT_TIMEOUT_S,
                     on_wait: OnWait | None = None, max_retries: int = DEFAULT_RETRIES,
                     before_write: BeforeWrite | None = None) -> list[IngestResult]:
    """:func:`ingestion.batch.ingest_paths` on Ray: the same results, in the same order, written the same
    way. ``address`` is :func:`connect`'s (a process already connected keeps its connection);
    ``max_in_flight`` bounds the files in flight (default: the cluster's CPUs; for a local Ray started
    here, also its CPUs); ``before_write`` may replace each extraction before it is written."""
    check_timeout(timeout_s)
    files = collect_pdfs(paths)
    outcomes = Outcomes(files, on_result)
    if not files:
        return []
    manifest = Manifest(LazyStore(settings), force, trust_content, on_wait, before_write)
    connected = connect(address, max_in_flight)
    import ray  # deferred: the ray extra (connect checked it imports)

    try:
        slots = max_in_flight or max(1, int(ray.cluster_resources().get("CPU", 1)))
        _RayBatch(ray, files, manifest, outcomes, slots, timeout_s, max_retries).run()
    finally:
        if connected:
            ray.shutdown()
    return outcomes.ordered()


@dataclass
class _Task:
    index: int
    stage: str  # HASH | EXTRACT
    deadline: float | None
    hash_s: float = 0.0


class _RayBatch:
    def __init__(self, ray, files: list[Path], manifest: Manifest, outcomes: Outcomes, slots: int,
                 timeout_s: float | None, max_retries: int):
        self.ray, self.files, self.manifest, self.outcomes = ray, files, manifest, outcomes
        self.slots, self.timeout_s, self.max_retries = slots, timeout_s, max_retries
        # Retries are for a dead worker only; an exception inside a job is already the job's result.
        options = {"num_cpus": 1, "max_retries": max_retries, "retry_exceptions": False}
        self.hash_task = ray.remote(**options)(timed_hash_job)
        self.extract_task = ray.remote(**options)(extract_job)
        self.pending = deque(range(len(files)))
        self.in_flight: dict[object, _Task] = {}  # ObjectRef → its task

    def _deadline(self) -> float | None:
        return time.monotonic() + self.timeout_s if self.timeout_s is not None else None

    def _path(self, i: int) -> str:
        # Absolute: a worker's working directory is not the driver's.
        return str(self.files[i].resolve())

    def _fill(self) -> None:
        while self.pending and len(self.in_flight) < self.slots:
            i = self.pending.popleft()
            self.in_flight[self.hash_task.remote(self._path(i))] = _Task(i, HASH, self._deadline())

    def _lost(self, task: _Task, exc: Exception) -> IngestResult:
        detail = f"Ray {type(exc).__name__}, after {self.max_retries} retries"
        return IngestResult(str(self.files[task.index]), FAILED, f"{CRASHED} ({detail})")

    def _settle(self, ref, task: _Task) -> None:
        path = self.files[task.index]
        try:
            value = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:  # the worker died on every try, or the node was lost
            return self.outcomes.emit(task.index, self._lost(task, exc))
        if task.stage == HASH:
            sha, reason, hash_s = value
            if sha is None:
                return self.outcomes.emit(task.index, IngestResult(str(path), FAILED, reason))
            if skipped := self.manifest.decide(path, sha):
                return self.outcomes.emit(task.index, skipped)
            ref = self.extract_task.remote(self._path(task.index), sha, self.manifest.trust_content)
            self.in_flight[ref] = _Task(task.index, EXTRACT, self._deadline(), hash_s)
            return
        ex, *rest = value
        if ex is not None:  # written under the path as given, like the process pool's
            ex = dataclasses.replace(ex, path=str(path))
        self.outcomes.emit(task.index, self.manifest.finish(path, (ex, *rest), task.hash_s))

    def _expire(self) -> None:
        now = time.monotonic()
        late = [ref for ref, t in self.in_flight.items() if t.deadline is not None and now >= t.deadline]
        if not late:
            return
        done, _ = self.ray.wait(late, num_returns=len(late), timeout=0)  # a result already there is no hang
        for ref in set(late) - set(done):
            task = self.in_flight.pop(ref)
            self.ray.cancel(ref, force=True)
            self.outcomes.emit(task.index, IngestResult(str(self.files[task.index]), FAILED,
                                                        timed_out_reason(self.timeout_s)))

    def run(self) -> None:
        try:
            self._fill()
            while self.in_flight:
                deadlines = [t.deadline for t in self.in_flight.values() if t.deadline is not None]
                wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                refs = list(self.in_flight)
                ready, _ = self.ray.wait(refs, num_returns=1, timeout=wait_s)
                if ready:  # and whatever else is done by now
                    ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
                done = [(ref, self.in_flight.pop(ref)) for ref in ready]
                for ref, task in done:
                    if task.stage == HASH:
                        self._settle(ref, task)  # quick: its extraction goes out, or it is settled
                self._fill()  # the extracted files' slots go to the next files before their reports are written
                for ref, task in done:
                    if task.stage == EXTRACT:
                        self._settle(ref, task)
                self._expire()
                self._fill()
        finally:
            for ref in self.in_flight:  # interrupted: stop what is still running
                self.ray.cancel(ref, force=True)
