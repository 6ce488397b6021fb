"""Ingest one report: extract, then write everything it contributes in one transaction."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingestion.audit import AuditResult, audit_rows, audit_statements
from ingestion.extract import ReportExtraction, extract_report, file_sha256
from ingestion.lock import IngestLockTimeout, OnWait, ingest_lock, lock_path
from ingestion.pdf_text import PdfError
from knowledge.configuration import Settings, get_settings
from knowledge.store import Store
from tools.retrieval import index_report

log = logging.getLogger(__name__)

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


@dataclass
class IngestResult:
    path: str
    status: str  # ok | skipped | failed
    reason: str | None = None
    company_code: str | None = None
    year: int | None = None
    report_id: int | None = None
    pages: int = 0
    values: int = 0  # values recorded (current + prior year)
    chunks: int = 0
    seconds: float = 0.0
    peak_rss_mb: float | None = None  # of the process that extracted it
    timings: dict[str, float] = field(default_factory=dict)
    identities_checked: int = 0  # accounting identities checked by the self-audit (ingestion.audit), all columns
    identities_failed: list[str] = field(default_factory=list)  # one line each: identity, column, difference

    @property
    def audit_passed(self) -> bool | None:
        """Every identity checked holds (None: nothing was checked, or the report was not written now)."""
        return None if not self.identities_checked else not self.identities_failed

    @property
    def ok(self) -> bool:
        return self.status == OK

    def line(self) -> str:
        name = Path(self.path).name
        if self.status == OK:
            audit = ""
            if self.identities_checked:
                held = self.identities_checked - len(self.identities_failed)
                audit = f", identities {held}/{self.identities_checked} hold"
                if self.identities_failed:
                    audit += " — FAILED: " + "; ".join(self.identities_failed)
            return (f"ok       {name}: {self.company_code} {self.year}, {self.pages} pages, "
                    f"{self.values} values, {self.chunks} chunks, {self.seconds:.1f}s{audit}")
        if self.status == SKIPPED:
            return f"skipped  {name}: {self.reason}"
        return f"failed   {name}: {self.reason}"


class ReportConflict(Exception):
    """Another report, with other bytes, is stored for the same company-year."""


class AlreadyIngested(Exception):
    """The same bytes are stored already (found under the lock: another process wrote them meanwhile)."""

    def __init__(self, report: dict):
        super().__init__("already ingested (same sha256)")
        self.report = report


def conflict_reason(ex: ReportExtraction, stored: dict) -> str:
    ident = ex.identity
    return (f"{ident.code} {ident.year} 已有另一份年报 {stored['file_name']}（内容不同）；"
            f"要用本文件替换它，请加 --force")


def write_extraction(store: Store, ex: ReportExtraction, *, force: bool = False,
                     on_wait: OnWait | None = None) -> tuple[int, int, int]:
    """One transaction, under the ingest lock: what is stored is checked, then company, report, values (own
    year, prior-year column, restatements) and chunks are written. The same bytes stored already raise
    :class:`AlreadyIngested`, another report of the company-year :class:`ReportConflict`; with ``force``
    either is removed first (see ``Store.remove_report``). Returns (report id, values recorded, chunks)."""
    ident = ex.identity
    with ingest_lock(lock_path(store), on_wait=on_wait), store.transaction() as conn:
        same = store.report_by_sha256(ex.sha256, conn)
        if same and same.get("status") == OK and not force:
            raise AlreadyIngested(same)
        others = [r for r in store.reports_for(ident.code, ident.year, conn) if r["sha256"] != ex.sha256]
        if others and not force:
            raise ReportConflict(conflict_reason(ex, others[0]))
        for old in ([same] if same else []) + others:
            store.remove_report(conn, old["id"])
        store.upsert_company(ex.company, conn)
        rid = store.add_report(conn, company_code=ident.code, year=ident.year, file_name=Path(ex.path).name,
                               sha256=ex.sha256, pages=len(ex.pages))
        store.record_values(conn, ident.code, ident.year, ex.current, source="report", report_id=rid)
        # Earlier years of the indicator tables first: the statements' prior-year column, written after,
        # keeps the cells it fills. Restated prior-year figures next, then the as-reported ones, so the cell
        # ends up as reported.
        for year, values in sorted(ex.earlier.items()):
            store.record_values(conn, ident.code, year, values, source="report_prior_year", report_id=rid)
        store.record_values(conn, ident.code, ident.year - 1, ex.restated, source="report_prior_year", report_id=rid)
        store.record_values(conn, ident.code, ident.year - 1, ex.prior, source="report_prior_year", report_id=rid)
        # The self-audit is stored with the report and flags the provenance of the values a failed identity used.
        store.record_audit(conn, rid, ident.code, audit_rows(report_audit(ex), ident.year))
        store.record_segments(conn, rid, ident.code, ident.year, [asdict(s) for s in ex.segments])
        rows = [{**chunk, "report_id": rid, "company_code": ident.code, "year": ident.year} for chunk in ex.chunks]
        store.add_chunks(conn, rows)
    earlier = sum(len(values) for values in ex.earlier.values())
    return rid, len(ex.current) + len(ex.prior) + len(ex.restated) + earlier, len(rows)


def report_audit(ex: ReportExtraction) -> AuditResult:
    """The extraction's audit, checked now if its worker did not."""
    if ex.audit is None:
        ex.audit = audit_statements(ex.statements)
    return ex.audit


def index_chunks(store: Store, report_id: int, settings: Settings | None = None) -> None:
    """After commit: put the report's chunks into the dense index when an embedding model is configured.
    ``settings`` should be the caller's (those the store was opened from); without them, the process-wide
    ``get_settings()`` decide, which is only right when the store is that home's."""
    settings = settings if settings is not None else get_settings()
    if not settings.retrieval.embedding_model_dir:
        return
    try:
        index_report(settings, store, report_id)
    except Exception as exc:  # the report is stored; a dense index can be rebuilt later
        log.warning("dense indexing of report %s failed: %s", report_id, exc)


def skipped_result(path: str | Path, report: dict) -> IngestResult:
    return IngestResult(str(path), SKIPPED, "already ingested (same sha256)", report["company_code"], report["year"],
                        report["id"], report.get("pages") or 0)


def ingest_file(store: Store, path: str | Path, *, force: bool = False, trust_content: bool = False,
                settings: Settings | None = None, on_wait: OnWait | None = None) -> IngestResult:
    """Ingest one PDF into ``store``, under the company-year its pages name (see :mod:`ingestion.identity`).

    A file already ingested (same sha256) is skipped. A file whose scheme name declares another
    company-year than its pages fails, naming both, unless ``trust_content`` (then the pages decide); a
    file of a company-year that has another report stored fails, naming that report's file. ``force``
    re-ingests the first and replaces the second. Never raises for a bad file: the result says ``failed``
    and why, and nothing is written. ``on_wait`` hears when another process's ingest holds the lock.
    ``settings`` (those ``store`` belongs to) decide the dense indexing after commit; see :func:`index_chunks`."""
    path = Path(path)
    t0 = time.perf_counter()
    try:
        sha = file_sha256(path)
    except OSError as exc:
        return IngestResult(str(path), FAILED, f"cannot read file ({exc.strerror or exc})")
    existing = store.report_by_sha256(sha)
    if existing and existing.get("status") == OK and not force:
        return skipped_result(path, existing)
    try:
        ex = extract_report(path, sha, trust_content=trust_content)
    except PdfError as exc:
        return IngestResult(str(path), FAILED, str(exc))
    except Exception as exc:  # an unexpected extractor bug must not stop a batch
        log.exception("extracting %s failed", path)
        return IngestResult(str(path), FAILED, f"extraction error: {type(exc).__name__}: {exc}")
    return commit_extraction(store, ex, force=force, started=t0, settings=settings, on_wait=on_wait)


def commit_extraction(store: Store, ex: ReportExtraction, *, force: bool = False, started: float | None = None,
                      peak_rss_mb: float | None = None, settings: Settings | None = None,
                      on_wait: OnWait | None = None) -> IngestResult:
    t0 = started if started is not None else time.perf_counter()
    cpu0 = time.process_time()
    try:
        rid, n_values, n_chunks = write_extraction(store, ex, force=force, on_wait=on_wait)
    except AlreadyIngested as exc:
        return skipped_result(ex.path, exc.report)
    except (ReportConflict, IngestLockTimeout) as exc:
        return IngestResult(ex.path, FAILED, str(exc), ex.identity.code, ex.identity.year)
    except Exception as exc:
        log.exception("writing %s failed", ex.path)
        return IngestResult(ex.path, FAILED, f"database error: {type(exc).__name__}: {exc}")
    write_cpu_s = time.process_time() - cpu0  # the writer's CPU for this report (the benchmark's)
    index_chunks(store, rid, settings)
    audit = report_audit(ex)
    failed = [c.brief(ex.identity.year) for c in audit.failed]
    return IngestResult(ex.path, OK, None, ex.identity.code, ex.identity.year, rid, len(ex.pages), n_values, n_chunks,
                        time.perf_counter() - t0, peak_rss_mb, {**ex.timings, "write_cpu_s": write_cpu_s},
                        len(audit.checked), failed)
