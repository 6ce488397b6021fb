"""Section-aware text chunks for retrieval: a few hundred characters, never across a page or a section,
with the company, year, section and page they come from."""

from __future__ import annotations

import re
from collections import Counter

from ingestion.sections import SectionMap
from knowledge.headings import heading_level

CHUNK_CHARS = 400
MIN_CHUNK_CHARS = 40
# Lines that run on most pages (the "2019 年年度报告" banner, "59 / 156") carry no content.
_PAGE_NUMBER = re.compile(r"^\s*\d+\s*/\s*\d+\s*$|^\s*-?\s*\d+\s*-?\s*$")
_RUNNING_SHARE = 0.5


def running_lines(pages: list[str]) -> set[str]:
    counts = Counter(ln.strip() for text in pages for ln in set(text.splitlines()) if ln.strip())
    return {ln for ln, n in counts.items() if n >= max(3, _RUNNING_SHARE * len(pages))}


def _paragraphs(text: str, skip: set[str]) -> list[str]:
    """Lines joined into paragraphs: a line ending in 。；：or a short line closes one."""
    paras, cur = [], ""
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln in skip or _PAGE_NUMBER.match(ln):
            continue
        if heading_level(ln):  # a heading stands alone: the section reader finds what lies under it
            if cur:
                paras.append(cur)
            paras.append(ln)
            cur = ""
            continue
        cur += ln
        if ln.endswith(("。", "；", "：", ":", "？", "！")) or len(ln) < 20:
            paras.append(cur)
            cur = ""
    if cur:
        paras.append(cur)
    return paras


def _split(text: str, size: int) -> list[str]:
    """An over-long paragraph cut at sentence ends near ``size``."""
    out = []
    while len(text) > size:
        cut = max(text.rfind(p, size // 2, size) for p in "。；，")
        cut = cut + 1 if cut > 0 else size
        out.append(text[:cut])
        text = text[cut:]
    if text:
        out.append(text)
    return out


def make_chunks(pages: list[str], sections: SectionMap, *, company_code: str, year: int, report_id: int | None = None,
                size: int = CHUNK_CHARS) -> list[dict]:
    skip = running_lines(pages)
    rows: list[dict] = []
    seen: set[tuple[int, str, str]] = set()
    for number, text in enumerate(pages, 1):
        sec = sections.at(number)
        section = sec.name if sec else None
        buf = ""
        pieces: list[str] = []
        for para in _paragraphs(text, skip):
            for part in _split(para, size):
                if buf and len(buf) + len(part) > size:
                    pieces.append(buf)
                    buf = ""
                buf += ("\n" if buf else "") + part
        if buf:
            # A short tail joins the previous chunk of the page rather than standing alone.
            if pieces and len(buf) < MIN_CHUNK_CHARS:
                pieces[-1] += "\n" + buf
            else:
                pieces.append(buf)
        for piece in pieces:
            key = (number, section or "", piece)
            if key in seen or len(piece.strip()) < 2:
                continue
            seen.add(key)
            rows.append(dict(report_id=report_id, company_code=company_code, year=year, page=number,
                             section=section, text=piece))
    return rows
