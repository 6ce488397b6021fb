"""Tables from the located pages with camelot: ruled (lattice) first, whitespace (stream) as fallback.

camelot is the slow part of ingestion, so it only ever sees the handful of pages that ``locate`` found, less
the statements the positioned reader settled (``ingestion.positioned``, ``ingestion.extract``).
Lattice runs on the PDF's vector rules (no rendering); a page where that finds nothing is rendered with
the pdfium backend when its drawn lines could make a grid, and otherwise read as a borderless (stream) table.
The costliest step of every pass is the page's layout analysis (its characters, text lines and rules): it is
done once per page and kept for the next pass (``LayoutCachingHandler``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

log = logging.getLogger(__name__)

# A page with fewer drawn paths than this has no ruled table worth rendering for.
_MIN_PATHS_FOR_RASTER = 10
# A path this tall (PDF points) or more can be a vertical rule; a ruled grid needs one.
_MIN_RULE_HEIGHT = 5.0


@dataclass
class PageTable:
    page: int  # 1-based
    rows: list[list[str]]
    flavor: str
    top: float = 0.0  # PDF y of the table's top edge (larger is higher on the page)

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


# pdfminer's layout parameters for every pass. ``boxes_flow=None`` skips the hierarchical grouping of text
# boxes, which only decides their reading order; camelot places text by its coordinates, so the tables are
# the same (checked on the bundled reports, every pass) at about a fifth less layout time.
LAYOUT_KWARGS = {"boxes_flow": None}


def preload() -> None:
    """Import camelot (about a second: opencv, pandas) now, e.g. in a parent before it forks workers."""
    import camelot  # noqa: F401  (deferred until asked: `nianbao` itself starts without it)


@cache
def _layout_caching_handler():
    # Built on first use: camelot is imported lazily (it pulls in opencv and friends).
    from camelot.handlers import PDFHandler

    class LayoutCachingHandler(PDFHandler):
        """A camelot handler that analyses each page's layout once for all the passes run through it."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.layouts: dict[int, tuple] = {}

        def _get_layout(self, page, **layout_kwargs):
            if page.page_idx not in self.layouts:
                self.layouts[page.page_idx] = super()._get_layout(page, **layout_kwargs)
            return self.layouts[page.page_idx]

    return LayoutCachingHandler


def _camelot_tables(handler, pages: list[int], flavor: str, **kwargs) -> list[PageTable]:
    from camelot.utils import remove_extra, validate_input  # lazily, as above

    if not pages:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            validate_input(kwargs, flavor=flavor)
            # What camelot.read_pdf does, on our handler (camelot 2's PDFHandler.parse takes the pages).
            found = handler.parse(flavor=flavor, suppress_stdout=True, layout_kwargs=LAYOUT_KWARGS, pages=list(pages),
                                  **remove_extra(kwargs, flavor=flavor))
        except Exception as exc:  # camelot raises many types on odd pages; a table miss is not fatal
            log.debug("camelot %s %s failed on %s pages %s: %s", flavor, kwargs, handler.filepath, pages, exc)
            return []
    tables = []
    for t in found:
        rows = [[str(c) for c in row] for row in t.df.values.tolist()]
        bbox = getattr(t, "_bbox", None)
        tables.append(PageTable(int(t.page), rows, flavor, float(bbox[3]) if bbox else 0.0))
    return tables


def _may_hold_grid(path: Path, pages: list[int]) -> list[int]:
    """The pages whose drawn paths could form a ruled grid: enough of them, and one at least with height (a
    vertical rule, a box, a whole grid). Rules in one direction only (a bank's borderless statements, ruled
    under their headers) give a rendered lattice no joints to find."""
    if not pages:
        return []
    pdf = pdfium.PdfDocument(str(path))
    try:
        out = []
        for p in pages:
            page = pdf[p - 1]
            try:
                boxes = [o.get_bounds() for o in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1)]
            finally:
                page.close()
            if len(boxes) >= _MIN_PATHS_FOR_RASTER and any(top - bottom >= _MIN_RULE_HEIGHT
                                                           for _, bottom, _, top in boxes):
                out.append(p)
        return out
    finally:
        pdf.close()


def _useful(t: PageTable) -> bool:
    return t.width >= 2 and len(t.rows) >= 2


def extract_tables(path: str | Path, pages: list[int]) -> dict[int, list[PageTable]]:
    """Tables per 1-based page, top to bottom."""
    path = Path(path)
    pages = sorted(set(pages))
    by_page: dict[int, list[PageTable]] = {p: [] for p in pages}
    if not pages:
        return by_page
    handler = _layout_caching_handler()(str(path), pages=",".join(map(str, pages)))
    for t in _camelot_tables(handler, pages, "lattice", backend="pdfium", engine="vector", split_text=True):
        if _useful(t):
            by_page[t.page].append(t)
    raster = _may_hold_grid(path, [p for p in pages if not by_page[p]])
    for t in _camelot_tables(handler, raster, "lattice", backend="pdfium", split_text=True):
        if _useful(t):
            by_page[t.page].append(t)
    for t in _camelot_tables(handler, [p for p in pages if not by_page[p]], "stream"):
        if _useful(t):
            by_page[t.page].append(t)
    for tables in by_page.values():
        tables.sort(key=lambda t: -t.top)
    return by_page
