"""Report text for the retrieval tests and benchmarks, independent of the ingestion chunker.

Ingestion owns the real chunker (``ingestion.chunks``); until it lands, and so that the retrieval figures
do not move whenever ingestion's chunking changes, this file turns a PDF's page text (pypdfium2) into
``chunks``-table rows itself: page headers stripped, wrapped lines joined into paragraphs, paragraphs
packed into windows of about ``size`` characters that never cross a page. ``section`` is the latest
heading seen (第X节 / 一、 / (一) lines), carried across pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PDF = next((REPO / "ingestion" / "samples").glob("*四方科技*2019*.pdf"))
SECOND_PDF = next((REPO / "tests" / "data" / "reports").glob("*生物股份*2020*.pdf"))
GOLD = REPO / "tests" / "data" / "retrieval_gold.jsonl"

# Running headers and page numbers: 「2019 年年度报告」「12 / 156」
_HEADER = re.compile(r"^\s*(?:\d{4}\s*年年度报告(?:全文|摘要)?|\d+\s*/\s*\d+)\s*$")
_HEADING = re.compile(r"^\s*(?:第[一二三四五六七八九十]+节|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])\s*\S")
_SENTENCE_END = ("。", "；", "：", ":", ";", "！", "？")


@dataclass(frozen=True)
class ReportMeta:
    code: str
    full_name: str
    short_name: str
    year: int


def report_meta(path: Path) -> ReportMeta:
    """From the challenge's file naming: ``date__full name__code__short name__2019年__年度报告.pdf``."""
    parts = path.stem.split("__")
    return ReportMeta(code=parts[2], full_name=parts[1], short_name=parts[3], year=int(parts[4].rstrip("年")))


def pdf_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def _paragraphs(page_text: str) -> Iterator[tuple[str, bool]]:
    """(paragraph, is_heading): lines joined until one ends a sentence or a heading starts."""
    buf: list[str] = []
    for raw in page_text.replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line or _HEADER.match(line):
            continue
        if _HEADING.match(line) and len(line) <= 40:
            if buf:
                yield "".join(buf), False
                buf = []
            yield line, True
            continue
        buf.append(line)
        if line.endswith(_SENTENCE_END):
            yield "".join(buf), False
            buf = []
    if buf:
        yield "".join(buf), False


def page_chunks(pages: list[str], *, size: int = 400) -> list[dict]:
    """``chunks`` rows (page, section, text) for one report's page texts (page numbers from 1)."""
    rows: list[dict] = []
    section = ""
    for page_no, page_text in enumerate(pages, start=1):
        window: list[str] = []
        window_section = section

        def flush() -> None:
            text = "\n".join(window).strip()
            if text:
                rows.append({"page": page_no, "section": window_section or None, "text": text})
            window.clear()

        for para, is_heading in _paragraphs(page_text):
            if is_heading:
                # A heading opens a new window so a section's first passage is not diluted by the last one.
                flush()
                section = para
                window_section = section
            if window and sum(map(len, window)) + len(para) > size:
                flush()
                window_section = section
            window.append(para)
        flush()
        # rows may share (page, section, text) only if a page repeats itself; uq_chunk forbids that.
    return _dedupe(rows)


def _dedupe(rows: list[dict]) -> list[dict]:
    seen: set[tuple] = set()
    out = []
    for r in rows:
        key = (r["page"], r["section"], r["text"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def report_chunks(path: Path, *, own: bool = False) -> list[dict]:
    """Chunks from ingestion's chunker (what production stores) when it is importable, else (or with
    ``own``) from :func:`page_chunks`."""
    pages = pdf_pages(path)
    if not own:
        try:
            from ingestion.chunks import make_chunks
            from ingestion.sections import find_sections
        except ImportError:
            pass
        else:
            meta = report_meta(path)
            rows = make_chunks(pages, find_sections(pages), company_code=meta.code, year=meta.year)
            return [{k: r[k] for k in ("page", "section", "text")} for r in rows]
    return page_chunks(pages)


@lru_cache(maxsize=8)
def cached_chunks(path: Path, own: bool = False) -> tuple[dict, ...]:
    """:func:`report_chunks`, once per process (tests load the same two reports many times)."""
    return tuple(report_chunks(path, own=own))


def load_report(store, path: Path, *, chunks: list[dict] | None = None) -> int:
    """Register the report's company and its chunks in ``store``; returns the report id.
    Only chunks, no wide-table values: retrieval needs nothing else."""
    import hashlib

    from knowledge.store import Company

    meta = report_meta(path)
    rows = list(chunks) if chunks is not None else list(cached_chunks(path))
    with store.transaction() as conn:
        store.upsert_company(Company(meta.code, meta.full_name, meta.short_name), conn)
        report_id = store.add_report(
            conn,
            company_code=meta.code,
            year=meta.year,
            file_name=path.name,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            pages=max(r["page"] for r in rows),
        )
        store.add_chunks(
            conn,
            [dict(r, report_id=report_id, company_code=meta.code, year=meta.year) for r in rows],
        )
    return report_id


def load_gold(path: Path = GOLD) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
