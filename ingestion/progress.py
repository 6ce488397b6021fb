"""A batch's progress as its results arrive — reports/s, pages/s, failures, ETA — and its machine-readable
summary. The same for the process pool and for Ray: both report through ``on_result``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingestion.pipeline import FAILED, OK, SKIPPED, IngestResult


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


@dataclass
class BatchProgress:
    files: int
    engine: str  # "processes" | "ray"
    workers: int | None = None  # worker processes, or Ray tasks in flight (None: the cluster's CPUs)
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=lambda: {OK: 0, SKIPPED: 0, FAILED: 0})
    pages: int = 0  # of the reports written in this run
    results: list[IngestResult] = field(default_factory=list)

    def add(self, result: IngestResult) -> None:
        self.counts[result.status] += 1
        if result.ok:
            self.pages += result.pages
        self.results.append(result)

    @property
    def settled(self) -> int:
        return len(self.results)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def reports_per_s(self) -> float:
        """Reports written per second of wall time (skipped and failed files are not throughput)."""
        return self.counts[OK] / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Files left at the rate files have settled so far (None before the first)."""
        if not self.settled:
            return None
        return (self.files - self.settled) * self.elapsed_s / self.settled

    @property
    def audited(self) -> list[IngestResult]:
        """The reports written in this run whose self-audit checked something (ingestion.audit)."""
        return [r for r in self.results if r.audit_passed is not None]

    @property
    def audit_share(self) -> float | None:
        """The share of audited reports passing every accounting identity (None: none audited)."""
        audited = self.audited
        return sum(1 for r in audited if r.audit_passed) / len(audited) if audited else None

    def status(self) -> str:
        return (f"{self.reports_per_s:.2f} reports/s · {self.pages_per_s:.1f} pages/s · "
                f"{self.counts[FAILED]} failed · ETA {clock(self.eta_s)}")

    def closing_line(self) -> str:
        c = self.counts
        audit = "" if self.audit_share is None else (
            f" · {sum(1 for r in self.audited if r.audit_passed)}/{len(self.audited)} reports "
            f"({self.audit_share:.0%}) pass every accounting identity")
        return (f"{self.files} files: {c[OK]} ok, {c[SKIPPED]} skipped, {c[FAILED]} failed · "
                f"{self.reports_per_s:.2f} reports/s, {self.pages_per_s:.1f} pages/s, wall {self.elapsed_s:.1f} s"
                + audit)

    def summary(self) -> dict:
        """The ``nianbao ingest --json`` object."""
        return {
            "engine": self.engine,
            "workers": self.workers,
            "files": self.files,
            **self.counts,
            "pages": self.pages,
            "wall_s": round(self.elapsed_s, 3),
            "reports_per_s": round(self.reports_per_s, 4),
            "pages_per_s": round(self.pages_per_s, 2),
            "failures": [{"file": Path(r.path).name, "reason": r.reason} for r in self.results if r.status == FAILED],
            "audit": {"reports_audited": len(self.audited),
                      "reports_passing": sum(1 for r in self.audited if r.audit_passed),
                      "share_passing": None if self.audit_share is None else round(self.audit_share, 4),
                      "failing": [{"file": Path(r.path).name, "identities": r.identities_failed}
                                  for r in self.audited if not r.audit_passed]},
            "results": [{**asdict(r), "file": Path(r.path).name} for r in self.results],
        }
