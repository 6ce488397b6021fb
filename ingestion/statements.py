"""Consolidated statement tables → canonical field values for the current and the prior year.

Works on the rows camelot gives for the statement's pages, in order. The header row says which columns
hold which period; continuation tables on later pages have no header and reuse the last layout. A
wrapped label (stream tables split it into rows) is joined with the next row's. The first non-empty
value wins when a field repeats (利息收入 appears under 营业总收入 and again under 财务费用).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ingestion.numbers import clean_cell, parse_number, to_yuan
from ingestion.tables import PageTable
from knowledge.fields import FieldDictionary, field_dictionary, normalize_label
from knowledge.store import Value

# The last line item of each statement: once it has been read, later tables belong to something else.
TERMINAL_FIELDS = {
    "balance": ("负债和所有者权益总计",),
    "income": ("稀释每股收益",),
    "cash_flow": ("期末现金及现金等价物余额",),
}
# Figures per share are in 元/股 whatever the table's unit.
PER_SHARE_FIELDS = ("基本每股收益", "稀释每股收益")
# A label naming two figures at once ("基本及稀释每股收益", "基本/稀释每股收益": banks, whose two are equal)
# resolves to the first; it gives the second too when it names it (field → (second field, the word naming it)).
JOINT_FIELDS = {"基本每股收益": ("稀释每股收益", "稀释")}
# Banks print the cash-flow supplement (补充资料: 现金的年末余额 …) on the statement's own pages, after its
# last line item: reading resumes there.
SUPPLEMENT_LABELS = {"cash_flow": ("补充资料",)}

# Header cells naming a period. Current: 本期/本年/期末/年末; prior: 上期/上年/期初/年初.
_YEAR = re.compile(r"((?:19|20)\d{2})")
_DATE = re.compile(r"((?:19|20)\d{2})年(\d{1,2})月(\d{1,2})日")
_CURRENT_WORDS = ("本期", "本年", "期末", "年末", "本报告期")
_PRIOR_WORDS = ("上期", "上年", "期初", "年初", "上年同期")
_RESTATED_WORDS = ("调整后", "重述后", "重述", "已重述")
_AS_REPORTED_WORDS = ("调整前", "重述前")
LABEL_HEADERS = ("项目", "科目", "资产", "负债和所有者权益", "负债和股东权益")
_NOTE_HEADERS = ("附注", "注释", "附注编号", "注")
RESTATED_NOTE = "restated (调整后)"
MAX_WRAPPED_ROWS = 3


@dataclass
class Layout:
    label_col: int
    current_col: int | None
    prior_col: int | None
    prior_restated: bool = False
    restated_col: int | None = None  # a second prior column holding restated figures
    width: int = 0


@dataclass
class StatementResult:
    kind: str
    unit: str
    current: list[Value] = field(default_factory=list)
    prior: list[Value] = field(default_factory=list)
    restated: list[Value] = field(default_factory=list)  # prior-year figures marked 调整后
    pages: list[int] = field(default_factory=list)
    # Read to its end: its last line item, or the next statement's header (a statement cut off by the last
    # page read is not).
    ended: bool = False


def _is_period(cell: str) -> bool:
    c = clean_cell(cell)
    return bool(_YEAR.search(c) or any(w in c for w in (*_CURRENT_WORDS, *_PRIOR_WORDS)) or c in ("金额", "余额"))


def _period_rank(cell: str) -> tuple:
    """Sort key putting the current period first: the latest date, then 本期-words before 上期-words."""
    dates = [(int(y), int(m), int(d)) for y, m, d in _DATE.findall(cell)]
    dates += [(int(y), 12, 31) for y in _YEAR.findall(_DATE.sub("", cell))]
    latest = max(dates) if dates else (0, 0, 0)
    word = 0 if any(w in cell for w in _CURRENT_WORDS) else (2 if any(w in cell for w in _PRIOR_WORDS) else 1)
    return (tuple(-x for x in latest), word)


def header_layout(row: list[str]) -> Layout | None:
    """The column layout a header row declares, or None if the row is not a header."""
    cells = [clean_cell(c) for c in row]
    period_cols = [i for i, c in enumerate(cells) if c and _is_period(c) and parse_number(c) is None]
    if len(period_cols) < 2 and not (len(period_cols) == 1 and any(c in LABEL_HEADERS for c in cells)):
        return None
    label_col = next((i for i, c in enumerate(cells) if c in LABEL_HEADERS), 0)
    period_cols = [i for i in period_cols if i != label_col and cells[i] not in _NOTE_HEADERS]
    if not period_cols:
        return None
    rank = {i: _period_rank(cells[i]) for i in period_cols}
    # Banks print group and parent side by side (本集团 | 本行): the leftmost column of a period wins.
    current = min(period_cols, key=lambda i: (rank[i], i))
    others = [i for i in period_cols if rank[i] != rank[current]]
    prior = min(others, key=lambda i: (rank[i], i)) if others else None
    restated = [i for i in period_cols if any(w in cells[i] for w in _RESTATED_WORDS) and "调整前" not in cells[i]]
    as_reported = [i for i in period_cols if any(w in cells[i] for w in _AS_REPORTED_WORDS)]
    restated_col = None
    if as_reported and restated:
        prior, restated_col = as_reported[0], restated[0]
    # An opening-balance column dated 1 January of the current year holds adjusted prior figures.
    opening = prior is not None and rank[prior][0][0] == rank[current][0][0] and rank[prior][0][1:] == (-1, -1)
    prior_restated = bool(prior is not None and (prior in restated or opening))
    return Layout(label_col, current, prior, prior_restated, restated_col, width=len(row))


def default_layout(row: list[str]) -> Layout:
    """No header seen: label first, the last two columns are current and prior."""
    n = len(row)
    if n >= 3:
        return Layout(0, n - 2, n - 1, width=n)
    return Layout(0, n - 1 if n == 2 else None, None, width=n)


def _label_text(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell or "").replace("\n", "").strip()


class StatementParser:
    def __init__(self, kind: str, unit: str, fields: FieldDictionary | None = None, boundaries: set[int] | None = None):
        self.kind = kind
        self.unit = unit
        self.fields = fields or field_dictionary()
        self.result = StatementResult(kind, unit)
        self._seen_current: set[str] = set()
        self._seen_prior: set[str] = set()
        self._seen_restated: set[str] = set()
        self._layout: Layout | None = None
        self._pending: list[str] = []  # label rows without figures (a label may wrap onto the next rows)
        # A row with figures whose label names no field yet: its label may end on the next row, which has no
        # figures ("投资收益（损失以“－”号填" / "列）"): the page's text lines, unlike a table cell, split it.
        self._awaiting: tuple[Layout, dict, int, str] | None = None
        self.done = False
        self._ended_by_header = False  # done because the next statement's header came (not the last item)
        self._in_supplement = False
        # Pages with a statement heading; elsewhere a header after data is the same table's header
        # repeated at the top of a new page.
        self.boundaries = boundaries

    def resolve(self, label: str):
        f = self.fields.resolve(label)
        return f if f is not None and f.statement == self.kind else None

    def _value(self, fdef, raw: str, page: int, label: str, note: str | None = None) -> Value | None:
        number = parse_number(raw)
        if number is None:
            return None
        if fdef.unit == "money" and fdef.name not in PER_SHARE_FIELDS:
            number = to_yuan(number, self.unit)
        return Value(fdef.name, number, page=page, raw_label=label, raw_text=clean_cell(raw), note=note)

    @property
    def may_resume(self) -> bool:
        """Done after the last line item, with a supplement that may still follow."""
        return bool(SUPPLEMENT_LABELS.get(self.kind)) and not (self._ended_by_header or self._in_supplement)

    def _resumes(self, row: list[str]) -> bool:
        """After the last line item: whether this row opens the statement's supplement."""
        return self.may_resume and any(normalize_label(c) in SUPPLEMENT_LABELS[self.kind] for c in row if c)

    def feed_rows(self, rows: list[list[str]], page: int) -> None:
        for row in rows:
            if self.done:
                if header_layout(row) is not None and (self.boundaries is None or page in self.boundaries):
                    self._ended_by_header = True  # the next statement starts: its 补充资料 is not ours
                if self._resumes(row):
                    self.done, self._in_supplement, self._pending = False, True, []
                continue
            layout = header_layout(row)
            if layout is not None:
                if (self.result.current or self.result.prior) and (self.boundaries is None or page in self.boundaries):
                    # A second header after data: the next statement (e.g. the 母公司 one) starts here.
                    self.done = self._ended_by_header = True
                    return
                self._layout = layout
                continue
            if self._layout is None or self._layout.width != len(row):
                # No header yet, or a continuation table of another shape.
                self._layout = default_layout(row)
            self._row(row, page)

    def _row(self, row: list[str], page: int) -> None:
        lay = self._layout
        raw_label = _label_text(row[lay.label_col]) if lay.label_col < len(row) else ""
        cells = {c: row[c] if c is not None and c < len(row) else "" for c in (lay.current_col, lay.prior_col, lay.restated_col)}
        has_values = any(parse_number(cells[c]) is not None for c in cells if c is not None)
        # A label can wrap over several rows, with the figures on its last row or on a row of their own:
        # try the longest run of pending label rows that, joined with this one, names a field.
        awaiting, self._awaiting = self._awaiting, None
        if awaiting is not None and not has_values and raw_label and self.resolve(raw_label) is None:
            # Only the tail of a label: a row naming its own field is a line item whose figures come later.
            a_lay, a_cells, a_page, a_label = awaiting
            fdef = self.resolve(a_label + raw_label)
            if fdef is not None:
                self._record_named(fdef, a_lay, a_cells, a_page, a_label + raw_label)
                return
        parts = self._pending + ([raw_label] if raw_label else [])
        if not parts:
            return
        fdef, label = None, raw_label
        for i in range(len(parts)):
            candidate = "".join(parts[i:])
            fdef = self.resolve(candidate)
            if fdef is not None:
                label = candidate
                break
        if not has_values:
            # Nothing to record yet: the label may continue on the next row.
            if raw_label:
                self._pending = (self._pending + [raw_label])[-MAX_WRAPPED_ROWS:]
            return
        self._pending = []
        if fdef is None:
            if raw_label:
                self._awaiting = (lay, cells, page, raw_label)
            return
        self._record_named(fdef, lay, cells, page, label)

    def _record_named(self, fdef, lay: Layout, cells: dict, page: int, label: str) -> None:
        """Record the row's figures under ``fdef`` (and the second field a joint label names); the last line
        item ends the statement."""
        joint = JOINT_FIELDS.get(fdef.name)
        named = [fdef] + ([self.fields[joint[0]]] if joint and joint[1] in normalize_label(label) else [])
        for f in named:
            self._record(f, lay, cells, page, label)
        if fdef.name in TERMINAL_FIELDS.get(self.kind, ()):
            self.done = True

    def _record(self, fdef, lay: Layout, cells: dict, page: int, label: str) -> None:
        cur = self._value(fdef, cells.get(lay.current_col, ""), page, label) if lay.current_col is not None else None
        if cur is not None and fdef.name not in self._seen_current:
            self._seen_current.add(fdef.name)
            self.result.current.append(cur)
        if lay.prior_col is not None:
            note = RESTATED_NOTE if lay.prior_restated else None
            prior = self._value(fdef, cells.get(lay.prior_col, ""), page, label, note)
            if prior is not None and fdef.name not in self._seen_prior:
                self._seen_prior.add(fdef.name)
                self.result.prior.append(prior)
        if lay.restated_col is not None:
            restated = self._value(fdef, cells.get(lay.restated_col, ""), page, label, RESTATED_NOTE)
            if restated is not None and fdef.name not in self._seen_restated:
                self._seen_restated.add(fdef.name)
                self.result.restated.append(restated)


def parse_statement(kind: str, tables: list[PageTable], unit: str, fields: FieldDictionary | None = None,
                    boundaries: set[int] | None = None) -> StatementResult:
    """``tables``: the tables of the statement's pages, in page order, top to bottom. ``boundaries``: pages
    bearing a statement heading (None: any header after data ends the statement)."""
    parser = StatementParser(kind, unit, fields, boundaries)
    rows = [(t.page, row) for t in tables for row in t.rows]
    # On the first page, what stands above the statement's own header is the previous statement's tail.
    first = tables[0].page if tables else None
    start = next((i for i, (page, row) in enumerate(rows) if page == first and header_layout(row)), 0)
    for page, row in rows[start:]:
        parser.feed_rows([row], page)
        if parser.done and not parser.may_resume:
            break
        if parser.done:
            continue
        if page not in parser.result.pages and (parser.result.current or parser.result.prior):
            parser.result.pages.append(page)
    parser.result.ended = parser.done
    return parser.result
