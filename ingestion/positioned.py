"""Statement tables from the text layer's positions (pdfium), without a layout analysis.

camelot's cost is the per-page layout analysis (about 60 ms a page, most of ingestion). A statement page is a
grid of text runs whose columns its header line names: pdfium already knows each run's box, so a row is the
runs sharing a baseline and a figure's column is the header cell nearest to it. The rows come out in the header's
shape ([项目, 附注, 本期, 上期] …), so ``ingestion.statements.parse_statement`` reads them exactly as camelot's.

What this reader cannot place (two figures nearest one column, a figure with no header read yet) marks its page
``uncertain``; the caller then has camelot read the statement. The caller also checks the result against the
statement's accounting identities before it trusts it (``ingestion.extract``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

from ingestion.numbers import clean_cell, parse_number
from ingestion.statements import LABEL_HEADERS, header_layout
from ingestion.tables import PageTable

FLAVOR = "positioned"
# Runs closer than this many line heights are one cell ("2019 年 12 月 31 日" comes as six runs, "161,931" as
# "161" and ",931"); the gap between a table's columns is several heights.
_MERGE_GAP_HEIGHTS = 1.0
# A run belongs to a line when its vertical centre lies within the line's band widened by this share of its height.
_LINE_SLACK = 0.25
_FIGURE = re.compile(r"^[(（]?[-−－]?[\d,]+(?:\.\d+)?%?[)）]?$")


@dataclass
class Run:
    text: str
    left: float
    right: float
    bottom: float
    top: float

    @property
    def height(self) -> float:
        return max(self.top - self.bottom, 1.0)

    @property
    def centre(self) -> float:
        return (self.left + self.right) / 2


def _runs(textpage) -> list[Run]:
    out = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top)
        if text.strip() and top > bottom:
            out.append(Run(text.strip(), left, right, bottom, top))
    return out


def _lines(runs: list[Run]) -> list[list[Run]]:
    """Runs grouped by baseline, top of the page first, each line left to right."""
    lines: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: -r.top):
        mid = (run.top + run.bottom) / 2
        line = lines[-1] if lines else None
        if line is not None:
            bottom = min(r.bottom for r in line) - _LINE_SLACK * run.height
            top = max(r.top for r in line) + _LINE_SLACK * run.height
            if bottom <= mid <= top:
                line.append(run)
                continue
        lines.append([run])
    return [sorted(line, key=lambda r: r.left) for line in lines]


# The start of a figure as printed (pdfium may cut one anywhere, even one run per character: "268" "," "9" …):
# thousands grouped by commas or not grouped, decimals, sign or parentheses.
_FIGURE_START = re.compile(r"^[(（]?[-−－]?(?:\d{1,3}(?:,\d{3})*(?:,\d{0,2})?|\d+)(?:\.\d*)?[%)）]*$")
# Runs of one figure stand closer than this many heights (the spacing of its characters).
_DIGIT_GAP_HEIGHTS = 0.5


def _joins(a: str, b: str, gap: float, height: float) -> bool:
    """Whether two close runs are one cell: text with anything; digits with digits only at a character's
    spacing and when together they still start one well-formed figure (figures of narrow adjacent columns do
    not: 1,2345,678)."""
    if not all(_FIGURE.match(clean_cell(t)) for t in (a, b)):
        return gap < height * _MERGE_GAP_HEIGHTS
    return gap < height * _DIGIT_GAP_HEIGHTS and bool(_FIGURE_START.match(clean_cell(a + b)))


def _cells(line: list[Run]) -> list[Run]:
    """Adjacent runs merged into cells."""
    cells: list[Run] = []
    for run in line:
        last = cells[-1] if cells else None
        if last is not None:
            if _joins(last.text, run.text, run.left - last.right, max(last.height, run.height)):
                cells[-1] = Run(last.text + run.text, last.left, max(last.right, run.right),
                                min(last.bottom, run.bottom), max(last.top, run.top))
                continue
        cells.append(run)
    return cells


def _is_figure(text: str) -> bool:
    s = clean_cell(text)
    return bool(_FIGURE.match(s)) and parse_number(s) is not None


@dataclass
class Columns:
    """The header's cells: where each column's centre stands, and which one holds the labels."""
    centres: list[float]
    label_col: int

    @property
    def label_edge(self) -> float:
        """Half-way from the label column's centre to the next column's: text starting left of it is label."""
        right = [c for i, c in enumerate(self.centres) if c > self.centres[self.label_col] and i != self.label_col]
        return (self.centres[self.label_col] + min(right)) / 2 if right else float("inf")

    def nearest(self, x: float, *, exclude: int | None = None) -> int:
        return min((i for i in range(len(self.centres)) if i != exclude), key=lambda i: abs(self.centres[i] - x))


def _header(cells: list[Run], left_margin: float) -> tuple[Columns, list[str]] | None:
    """The columns a header line declares, and its cells. A header naming no label column (平安银行: 附注四 |
    2024年12月31日 | 2023年12月31日) has one all the same, at the page's left margin, where the labels stand."""
    texts = [c.text for c in cells]
    layout = header_layout(texts)
    if layout is None:
        return None
    if clean_cell(texts[layout.label_col]) not in LABEL_HEADERS:
        return Columns([left_margin] + [c.centre for c in cells], 0), ["项目"] + texts
    return Columns([c.centre for c in cells], layout.label_col), texts


def _row(cells: list[Run], cols: Columns) -> tuple[list[str], str | None]:
    """The line's cells in the header's shape, and why it could not be placed (None when it could)."""
    row = [""] * len(cols.centres)
    label: list[str] = []
    for cell in cells:
        figure = _is_figure(cell.text)
        if not figure and (cell.left < cols.label_edge or cols.nearest(cell.centre) == cols.label_col):
            # A label's text, a note reference like 七、1 printed beside it included (label normalisation
            # drops it); text standing in another column is that column's (附注 numbers, a dash).
            label.append(cell.text)
            continue
        col = cols.nearest(cell.centre, exclude=cols.label_col)
        if row[col] and figure:
            return row, f"two figures nearest column {col}: {row[col]!r}, {cell.text!r}"
        row[col] = (row[col] + cell.text) if not figure else cell.text
    row[cols.label_col] = "".join(label)
    return row, None


def read_page(page, columns: Columns | None) -> tuple[list[list[str]], list[str], Columns | None]:
    """One page's rows from its first header line on (or from the top with the previous page's columns), why
    rows could not be placed (one line each), and the columns the next page continues with."""
    textpage = page.get_textpage()
    try:
        lines = _lines(_runs(textpage))
    finally:
        textpage.close()
    rows: list[list[str]] = []
    uncertain: list[str] = []
    left_margin = min((r.left for line in lines for r in line), default=0.0)
    for line in lines:
        cells = _cells(line)
        header = _header(cells, left_margin)
        if header is not None:
            columns, texts = header
            rows.append(texts)
            continue
        if columns is None:
            if any(_is_figure(c.text) for c in cells):
                uncertain.append(f"figures before any header: {' '.join(c.text for c in cells)}")
            continue
        row, why = _row(cells, columns)
        if why:
            uncertain.append(why)
        rows.append(row)
    return rows, uncertain, columns


def positioned_tables(path: str | Path, pages: list[int]) -> tuple[dict[int, list[PageTable]], dict[int, list[str]]]:
    """Tables per 1-based page (one each, the page's rows from its first header on, or from the top with the
    previous page's columns), and per page the rows that could not be placed, with why."""
    by_page: dict[int, list[PageTable]] = {}
    uncertain: dict[int, list[str]] = {}
    pdf = pdfium.PdfDocument(str(path))
    try:
        columns = None
        for p in sorted(pages):
            page = pdf[p - 1]
            try:
                rows, doubts, columns = read_page(page, columns)
            finally:
                page.close()
            by_page[p] = [PageTable(p, rows, FLAVOR)] if rows else []
            if doubts:
                uncertain[p] = doubts
    finally:
        pdf.close()
    return by_page, uncertain
