"""Tables from the located pages with camelot: ruled (lattice) first, whitespace (stream) as fallback.

camelot is the slow part of ingestion, so it only ever sees the handful of pages that ``locate`` found.
Lattice runs on the PDF's vector rules (no rendering); a page where that finds nothing is rendered with
the pdfium backend when it has drawn lines, and otherwise read as a borderless (stream) table.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

log = logging.getLogger(__name__)

# A page with fewer drawn paths than this has no ruled table worth rendering for.
_MIN_PATHS_FOR_RASTER = 10


@dataclass
class PageTable:
    page: int  # 1-based
    rows: list[list[str]]
    flavor: str
    top: float = 0.0  # PDF y of the table's top edge (larger is higher on the page)

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _camelot_tables(path: Path, pages: list[int], **kwargs) -> list[PageTable]:
    import camelot  # imported lazily: it pulls in opencv and friends

    if not pages:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = camelot.read_pdf(
                str(path), pages=",".join(map(str, pages)), suppress_stdout=True, **kwargs
            )
        except Exception as exc:  # camelot raises many types on odd pages; a table miss is not fatal
            log.debug("camelot %s failed on %s pages %s: %s", kwargs, path.name, pages, exc)
            return []
    tables = []
    for t in found:
        rows = [[str(c) for c in row] for row in t.df.values.tolist()]
        bbox = getattr(t, "_bbox", None)
        tables.append(PageTable(int(t.page), rows, kwargs.get("flavor", "lattice"), float(bbox[3]) if bbox else 0.0))
    return tables


def _has_drawn_lines(path: Path, page: int) -> bool:
    pdf = pdfium.PdfDocument(str(path))
    try:
        objs = pdf[page - 1].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1)
        return sum(1 for _ in objs) >= _MIN_PATHS_FOR_RASTER
    finally:
        pdf.close()


def _useful(t: PageTable) -> bool:
    return t.width >= 2 and len(t.rows) >= 2


def extract_tables(path: str | Path, pages: list[int]) -> dict[int, list[PageTable]]:
    """Tables per 1-based page, top to bottom."""
    path = Path(path)
    pages = sorted(set(pages))
    by_page: dict[int, list[PageTable]] = {p: [] for p in pages}
    for t in _camelot_tables(path, pages, flavor="lattice", backend="pdfium", engine="vector", split_text=True):
        if _useful(t):
            by_page[t.page].append(t)
    missing = [p for p in pages if not by_page[p]]
    raster = [p for p in missing if _has_drawn_lines(path, p)]
    for t in _camelot_tables(path, raster, flavor="lattice", backend="pdfium", split_text=True):
        if _useful(t):
            by_page[t.page].append(t)
    missing = [p for p in pages if not by_page[p]]
    for t in _camelot_tables(path, missing, flavor="stream"):
        if _useful(t):
            by_page[t.page].append(t)
    for tables in by_page.values():
        tables.sort(key=lambda t: -t.top)
    return by_page
