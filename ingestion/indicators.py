"""主要会计数据和财务指标 → field values of every year the tables print.

The tables of a report's second section: 主要会计数据 and 主要财务指标 (three years, sometimes 调整前 and 调整后
columns per year), 分季度主要财务数据 (four quarters of the report's year), 非经常性损益项目及金额 (its 合计), and
the ratios banks print after them (关键指标, 补充财务比率, 监管指标, 资本充足率, 杠杆率, 流动性覆盖率 …).

Each table is read from the header row that names its columns. A column counts when it is one year
(2019年, 2019年末, 2024年12月31日 — a date other than the year end is a quarter's, not a year's), or one quarter
of the report's year; change, standard-value and note columns are skipped, and so is a parent-only (本行,
母公司) column beside the group's. Under a year, 调整后 is preferred and 调整前 kept beside it. A header that
names any other kind of column (分部: 零售金融业务 …), or one year twice without saying why, makes its table
no indicator table. A table with no header continues the one before it when it opens the next page.

A year may span sub-columns named by a second header row (余额 | 占比 | 不良率: a bank's 五级分类 and
贷款按产品划分 tables): a row's field there is the row's name joined to the sub-column's (关注贷款 + 占比 →
关注类贷款占比, 企业贷款 + 不良率 → 企业贷款不良率) when the dictionary knows that name, or under 余额 the
row's own money field; a row printing one figure per year (不良贷款率 below the classes) is its own field.
A 其中 row may be a part of the row above it: 「不良贷款率 / 其中：企业贷款 0.70%」 is 企业贷款's 不良贷款率,
tried before the row's own field (企业贷款, an amount). A money or count field never takes a figure printed
with %.

In the 非经常性损益 table only its 合计 and the items named in NONRECURRING_ITEMS count, an item by the head
of its label (「计入当期损益的政府补助，但与公司正常经营业务密切相关…除外」). The 截至披露前一交易日 block
prints KEY_VALUE_FIELDS as a label and one figure, of the report's year, under no header.

camelot's cells come first; the text layer fills the (field, year) pairs they missed — a one-row table camelot
dropped, a page it could not read — only on lines whose figures match the header's columns one for one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from ingestion.keyvalue import join_wrapped
from ingestion.numbers import clean_cell, parse_number, to_yuan
from ingestion.statements import JOINT_FIELDS
from ingestion.tables import PageTable
from knowledge.fields import FieldDef, FieldDictionary, field_dictionary, normalize_label
from knowledge.store import Value

RESTATED_NOTE = "restated (调整后)"
AS_REPORTED_NOTE = "as reported (调整前)"
# Statements whose fields an indicator table may fill (not the 公司简介 / 员工 / 研发 key-value fields).
FILLABLE_STATEMENTS = ("balance", "income", "cash_flow", "other")
# 分季度主要财务数据: annual field → quarterly fields are named 第一季度<field> … 第四季度<field>.
QUARTERLY_BASES = ("营业收入", "归属于母公司所有者的净利润", "扣除非经常性损益后的净利润", "经营活动产生的现金流量净额")
QUARTERS = ("第一季度", "第二季度", "第三季度", "第四季度")
NONRECURRING_TOTAL = "非经常性损益合计"
# Items of the 非经常性损益 table read as fields of their own; its other rows share names with statement
# lines (公允价值变动损益, 资产处置损益) while holding only their non-recurring part, so they are not read.
NONRECURRING_ITEMS = ("计入当期损益的政府补助",)
# 截至披露前一交易日的公司总股本及用最新股本计算的全面摊薄每股收益 (深交所): label and figure, no year header.
KEY_VALUE_FIELDS = ("用最新股本计算的全面摊薄每股收益",)

_YEAR = re.compile(r"((?:19|20)\d{2})年?(?:(\d{1,2})月(\d{1,2})日)?")
_QUARTER = re.compile(r"第([一二三四1-4])季度|(?<![A-Za-z])Q([1-4])(?![0-9])|([一二三四])季度")
_QUARTER_NUMBER = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_CHANGE = re.compile(r"增减|变动|比上年|同比|增长率|变化")
_STANDARD = re.compile(r"标准值|监管标准|监管要求")
_NOTE = re.compile(r"^(?:附注|注释|注|说明|备注)")
_RESTATED = ("调整后", "重述后", "已重述")
_AS_REPORTED = ("调整前", "重述前")
_GROUP = ("本集团", "集团", "合并")
_PARENT = ("本行", "母公司", "本公司", "银行")
_LABEL_HEADERS = ("项目", "主要会计数据", "主要财务指标", "非经常性损益项目", "指标", "项目名称")
# Sub-column names under a year → the measure a row's field is composed with (贷款余额 is an amount).
_MEASURES = {"余额": "余额", "金额": "余额", "贷款余额": "余额", "账面余额": "余额", "占比": "占比", "比例": "占比",
             "占总额百分比": "占比", "占总额比": "占比", "占贷款总额比": "占比", "占贷款总额百分比": "占比",
             "不良率": "不良率", "不良贷款率": "不良率"}
AMOUNT_MEASURE = "余额"
# A row's name joined to its sub-column's; the 五级分类 rows may name the class alone (次级, 可疑).
_MEASURED_FORMS = ("{row}{measure}", "{row}类贷款{measure}")
_MEMBER = re.compile(r"^\s*其中\s*[:：]")  # a part of the row above (其中：企业贷款)
_NOTE_REF = re.compile(r"[(（]\s*注\s*\d*\s*[)）]")  # 逾期 90 天以上贷款偏离度（注 1）
_CLAUSE = re.compile(r"[,，(（]")  # where a 非经常性损益 item's qualifying clause starts
_NONRECURRING_TITLE = "非经常性损益项目"
# The unit of a table: the last declaration above it ("单位：元", "（货币单位：人民币百万元）").
_UNIT = re.compile(r"(?:单位[:：]?(?:均为)?(?:人民币)?|人民币)(百万元|千元|万元|亿元|元)(?![/／])")
# Page furniture in the text layer: running headers and page numbers.
_FURNITURE = re.compile(r"年度报告(?:全文)?$|^\d+\s*/\s*\d+$|^\d{1,3}$|股份有限公司$|^第[一二三四五六七八九十]+[章节]")
MAX_WRAPPED_ROWS = 3
MAX_LABEL_LINE = 40  # characters; a longer line without figures or a header's columns is running text


@dataclass(frozen=True)
class Column:
    index: int
    year: int
    quarter: int | None = None  # 1-4: a 分季度 column of ``year``
    restated: bool | None = None  # True 调整后, False 调整前, None when the header says neither
    measure: str | None = None  # a sub-column of the year (余额, 占比, 不良率: _MEASURES)


@dataclass
class Layout:
    label_col: int
    columns: list[Column]
    width: int

    @property
    def quarterly(self) -> bool:
        return any(c.quarter for c in self.columns)

    @property
    def measured(self) -> bool:
        return any(c.measure for c in self.columns)


@dataclass
class IndicatorResult:
    """Values per year. A field printed both 调整前 and 调整后 has both, the 调整前 one first, so that written
    in order the 调整后 figure is the one a wide-table cell keeps."""

    by_year: dict[int, list[Value]] = field(default_factory=dict)

    def of_year(self, year: int) -> list[Value]:
        return self.by_year.get(year, [])


# ---------------------------------------------------------------------------------------------------
# Header cells


@dataclass(frozen=True)
class _Cell:
    kind: str  # period | quarter | skip | qualifier | empty | label | other
    year: int | None = None
    quarter: int | None = None
    restated: bool | None = None
    parent: bool = False
    year_end: bool = True


def _qualifiers(text: str) -> tuple[bool | None, bool]:
    restated = True if any(w in text for w in _RESTATED) else (False if any(w in text for w in _AS_REPORTED) else None)
    parent = any(w in text for w in _PARENT) and not any(w in text for w in _GROUP)
    return restated, parent


def _classify(cell: str, report_year: int) -> _Cell:
    text = clean_cell(cell)
    if not text:
        return _Cell("empty")
    if _CHANGE.search(text):
        return _Cell("skip")
    if _STANDARD.search(text) or _NOTE.match(text):
        return _Cell("skip")
    restated, parent = _qualifiers(text)
    q = _QUARTER.search(text)
    if q:
        years = _YEAR.findall(text)
        return _Cell("quarter", int(years[0][0]) if years else report_year,
                     _QUARTER_NUMBER[next(g for g in q.groups() if g)], restated, parent)
    m = _YEAR.search(text)
    if m and parse_number(text) is None:
        month, day = m[2], m[3]
        year_end = month is None or (int(month), int(day)) == (12, 31)
        return _Cell("period", int(m[1]), None, restated, parent, year_end)
    if restated is not None or parent or any(w in text for w in _GROUP):
        rest = re.sub("|".join((*_RESTATED, *_AS_REPORTED, *_GROUP, *_PARENT)), "", text)
        if not rest.strip("()（）"):
            return _Cell("qualifier", restated=restated, parent=parent)
    if normalize_label(text) in _LABEL_HEADERS or text in ("金额", "数值"):
        return _Cell("label")
    return _Cell("other")


def _is_figure_row(row: list[str], label_col: int = 0) -> bool:
    return any(parse_number(c) is not None for i, c in enumerate(row) if i != label_col)


def _measure(cell: str) -> str | None:
    return _MEASURES.get(clean_cell(cell).replace("(%)", "").rstrip("%"))


def _measure_row(row: list[str], width: int) -> list[str | None] | None:
    """The measures a second header row names per column (余额 | 占比 …), or None when it is no such row;
    a change column's 增减 there is no measure and no objection."""
    if len(row) != width:
        return None
    measures = [_measure(c) if i else None for i, c in enumerate(row)]
    others = [c for i, c in enumerate(row) if i and clean_cell(c) and measures[i] is None]
    if not any(measures) or any(not _CHANGE.search(c) for c in others):
        return None
    return measures


def header_layout(rows: list[list[str]], at: int, report_year: int) -> tuple[Layout | None, int]:
    """The layout a header at ``rows[at]`` declares (with a qualifier row under it: 调整后/调整前, 本集团/本行),
    and how many rows it spans; (None, 0) when the row is no header, (None, n) when it is a header of a
    table that is not an indicator table."""
    row = rows[at]
    if _is_figure_row(row):
        return None, 0
    cells = [_classify(c, report_year) for c in row]
    if not any(c.kind in ("period", "quarter") for c in cells[1:]):
        return None, 0
    span, measures = 1, None
    if at + 1 < len(rows) and not _is_figure_row(rows[at + 1]):
        measures = _measure_row(rows[at + 1], len(cells))
        span = 2 if measures else 1
        under = [_classify(c, report_year) for c in rows[at + 1]]
        if len(under) == len(cells) and any(u.kind == "qualifier" for u in under) and \
                all(u.kind in ("qualifier", "empty") for u in under[1:]):
            span = 2
            merged, carry = [], None
            for c, u in zip(cells, under):
                if c.kind in ("period", "quarter"):
                    carry = c
                elif c.kind != "empty":
                    carry = None
                base = c if c.kind != "empty" else (carry if u.kind == "qualifier" and carry else c)
                if u.kind == "qualifier" and base.kind in ("period", "quarter"):
                    base = _Cell(base.kind, base.year, base.quarter,
                                 u.restated if u.restated is not None else base.restated,
                                 u.parent or base.parent, base.year_end)
                merged.append(base)
            cells = merged
    if any(c.kind == "other" for c in cells[1:]):
        return None, span
    columns, seen = [], set()
    for i, (c, measure) in enumerate(zip(cells, _spanned(cells, measures))):
        if i == 0 or c.kind not in ("period", "quarter") or c.parent or not c.year_end:
            continue
        if c.year > report_year or (c.kind == "quarter" and c.year != report_year):
            continue
        key = (c.year, c.quarter, c.restated, measure)
        if key in seen:
            return None, span  # one period twice, no qualifier to tell them apart (segments, currencies)
        seen.add(key)
        columns.append(Column(i, c.year, c.quarter, c.restated, measure))
    if not columns:
        return None, span
    return Layout(0, columns, len(row)), span


def _spanned(cells: list[_Cell], measures: list[str | None] | None) -> list[str | None]:
    """Per header cell, the measure under it; the empty cells right of a period under a measure become
    that period's sub-columns in ``cells`` (changed in place)."""
    if measures is None:
        return [None] * len(cells)
    carry = None
    for i, c in enumerate(cells):
        if c.kind in ("period", "quarter"):
            carry = c
        elif c.kind == "empty" and carry is not None and measures[i]:
            cells[i] = carry
        else:
            carry = None
    return measures


# ---------------------------------------------------------------------------------------------------
# Page context from the text layer: the unit in force and whether a 非经常性损益 table is open


@dataclass
class _Context:
    unit: str = "元"
    nonrecurring: bool = False


_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+、|\([一二三四五六七八九十]+\)|\d+(?:\.\d+)+\s)"
                      r"\s*(?:[\u4e00-\u9fff]|(?:19|20)\d{2}\s*年)")
_SECTION = re.compile(r"^第[一二三四五六七八九十]+[节章]\s*(\S+)")
OWN_SECTION_WORDS = ("财务指标", "会计数据")  # the indicators' own section, whose title may head every page


def _is_heading(line: str) -> bool:
    """An enumerated heading ("十一、 采用公允价值计量的项目", "2.3 补充财务比率"), or the next section's title."""
    text = unicodedata.normalize("NFKC", line).strip()
    section = _SECTION.match(text)
    if section:
        return not any(w in section[1] for w in OWN_SECTION_WORDS)
    return bool(_HEADING.match(text))


class _TextIndex:
    """Per page: its text without whitespace, and the context in force at each offset of it."""

    def __init__(self, page_texts: dict[int, str]):
        self.flat: dict[int, str] = {}
        self.marks: dict[int, list[tuple[int, _Context]]] = {}
        ctx = _Context()
        for page, text in sorted(page_texts.items()):
            flat, marks = "", []
            for line in text.splitlines():
                squeezed = re.sub(r"\s+", "", unicodedata.normalize("NFKC", line))
                ctx = self._advance(ctx, line, squeezed)
                flat += squeezed
                marks.append((len(flat), ctx))
            self.flat[page] = flat
            self.marks[page] = marks

    @staticmethod
    def _advance(ctx: _Context, line: str, squeezed: str) -> _Context:
        units = _UNIT.findall(squeezed)
        unit = units[-1] if units else ctx.unit
        nonrec = ctx.nonrecurring
        if _is_heading(line):
            nonrec = False
        if _NONRECURRING_TITLE in squeezed and "定义" not in squeezed:
            nonrec = True
        return _Context(unit, nonrec)

    def at(self, page: int, label: str, value: str = "") -> _Context | None:
        """The context where a row (``label`` followed by ``value``) stands on ``page``; a heading may name
        the label before the table does, so the occurrence followed by the row's value is preferred."""
        key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", label))
        flat = self.flat.get(page, "")
        if len(key) < 2:
            return None
        starts = [m.start() for m in re.finditer(re.escape(key), flat)]
        figure = clean_cell(value)
        pos = next((p for p in starts if figure and figure in flat[p + len(key):p + len(key) + 16]),
                   starts[0] if starts else -1)
        if pos < 0:
            return None
        return next((c for end, c in self.marks[page] if end > pos), None)

    def end_of(self, page: int) -> _Context:
        marks = self.marks.get(page)
        return marks[-1][1] if marks else _Context()


# ---------------------------------------------------------------------------------------------------
# Rows → values


class _Collector:
    """The first value per (field, year, 调整后/调整前/neither)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, int, bool | None], Value] = {}

    def add(self, value: Value, year: int, restated: bool | None) -> None:
        self.values.setdefault((value.field, year, restated), value)

    def has(self, name: str, year: int) -> bool:
        return any((name, year, r) in self.values for r in (None, True, False))

    def result(self) -> IndicatorResult:
        out = IndicatorResult()
        pairs = sorted({(f, y) for f, y, _ in self.values}, key=lambda fy: (-fy[1], fy[0]))
        for name, year in pairs:
            restated, plain, reported = (self.values.get((name, year, r)) for r in (True, None, False))
            preferred = restated or plain or reported
            vals = [reported] if reported is not None and preferred is not reported else []
            out.by_year.setdefault(year, []).extend([*vals, preferred])
        return out


class _Members:
    """Which row a 其中 row and the rows after it are parts of: the row right above the 其中 one."""

    def __init__(self) -> None:
        self.parent: str | None = None
        self.last: str | None = None

    def of(self, label: str) -> str | None:
        if _MEMBER.match(label) and self.last:
            self.parent = self.last
        return self.parent

    def read(self, label: str) -> None:
        self.last = label


class IndicatorParser:
    def __init__(self, report_year: int, fields: FieldDictionary | None = None):
        self.year = report_year
        self.fields = fields or field_dictionary()
        self.found = _Collector()

    def fillable(self, label: str) -> FieldDef | None:
        fdef = self.fields.resolve(label)
        return fdef if fdef is not None and fdef.statement in FILLABLE_STATEMENTS else None

    def resolve(self, label: str, layout: Layout, ctx: _Context, parent: str | None = None,
                row: list[str] | None = None) -> list[tuple[FieldDef, Column]]:
        """(field, column) pairs a row label names under ``layout``: a quarterly table's rows become the
        quarter fields; in a 非经常性损益 table only the 合计 and its NONRECURRING_ITEMS count. A part of
        ``parent`` (a 其中 row) is first read as the parent's figure of it. ``row``: the row's cells, which
        tell a row of one figure per year in a sub-columned table."""
        label = _NOTE_REF.sub("", label)
        if ctx.nonrecurring:
            fdef = self._nonrecurring_field(label)
            return [(fdef, c) for c in layout.columns if c.quarter is None and c.measure in (None, AMOUNT_MEASURE)] \
                if fdef else []
        if layout.quarterly:
            fdef = self.fillable(label)
            if fdef is None or fdef.name not in QUARTERLY_BASES:
                return []
            return [(self.fields[quarter_field(c.quarter, fdef.name)], c) for c in layout.columns if c.quarter]
        names = ([normalize_label(label) + normalize_label(parent)] if parent else []) + [label]
        for name in names:
            pairs = self._plain(name, layout, row)
            if pairs:
                return pairs
        return []

    def _plain(self, label: str, layout: Layout, row: list[str] | None) -> list[tuple[FieldDef, Column]]:
        own = self.fillable(label)
        if layout.measured and own is not None and row is not None:
            single = _one_figure_per_year(layout, row, own)
            if single:
                return [(own, c) for c in single]
        out = []
        for col in layout.columns:
            fdef = self._measured(label, col.measure) if col.measure else own
            if fdef is not None:
                out.append((fdef, col))
        joint = JOINT_FIELDS.get(own.name) if own is not None and not layout.measured else None
        if joint and joint[1] in normalize_label(label) and joint[0] in self.fields:
            out += [(self.fields[joint[0]], col) for col in layout.columns]
        return out

    def _measured(self, label: str, measure: str) -> FieldDef | None:
        """The field of ``label``'s row under a ``measure`` sub-column (关注贷款 + 占比 → 关注类贷款占比); under
        余额 the row's own money field (发放贷款和垫款本金总额) when no composed name is known."""
        row = normalize_label(label)
        for form in _MEASURED_FORMS:
            fdef = self.fillable(form.format(row=row, measure=measure))
            if fdef is not None:
                return fdef
        own = self.fillable(label) if measure == AMOUNT_MEASURE else None
        return own if own is not None and own.unit == "money" else None

    def _nonrecurring_field(self, label: str) -> FieldDef | None:
        norm = normalize_label(label)
        if norm in ("合计", "总计", "非经常性损益合计"):
            return self.fields[NONRECURRING_TOTAL]
        for form in (norm, _CLAUSE.split(norm)[0]):  # 「计入当期损益的政府补助，但…除外」: its head names it
            fdef = self.fields.resolve(form)
            if fdef is not None and fdef.name in NONRECURRING_ITEMS:
                return fdef
        return None

    def value(self, fdef: FieldDef, raw: str, page: int, label: str, unit: str, col: Column) -> Value | None:
        number = parse_number(raw)
        if number is None:
            return None
        if "%" in raw and fdef.unit not in ("percent", "ratio"):
            return None  # a rate in an amount's row (不良贷款率 / 其中：企业贷款 0.70%) is not the amount
        if fdef.unit == "money" and "每股" not in fdef.name:  # per-share figures are in 元 whatever the table's unit
            number = to_yuan(number, unit)
        note = RESTATED_NOTE if col.restated else (AS_REPORTED_NOTE if col.restated is False else None)
        return Value(fdef.name, number, page=page, raw_label=label, raw_text=clean_cell(raw), note=note)

    def row(self, row: list[str], page: int, pairs: list[tuple[FieldDef, Column]], ctx: _Context, label: str,
            fill_only: bool = False) -> None:
        """Record the row's figures; ``fill_only``: only (field, year) pairs not found yet (the text layer)."""
        for fdef, col in pairs:
            if col.index >= len(row) or (fill_only and self.found.has(fdef.name, col.year)):
                continue
            v = self.value(fdef, row[col.index], page, label, ctx.unit, col)
            if v is not None:
                self.found.add(v, col.year, col.restated)

    def key_value(self, label: str, figures: list[str], page: int, ctx: _Context) -> bool:
        """A KEY_VALUE_FIELDS row (label, one figure) of the report's year; whether it was one."""
        fdef = self.fillable(_NOTE_REF.sub("", label))
        if fdef is None or fdef.name not in KEY_VALUE_FIELDS or len(figures) != 1:
            return False
        if not self.found.has(fdef.name, self.year):
            self.row(figures, page, [(fdef, Column(0, self.year))], ctx, label)
        return True

    # -- camelot tables --------------------------------------------------------------------------

    def feed_tables(self, tables: dict[int, list[PageTable]], text: _TextIndex) -> None:
        layout: Layout | None = None
        last_page = None
        for page in sorted(tables):
            for n, t in enumerate(tables[page]):
                continues = n == 0 and last_page == page - 1 and layout is not None and t.width == layout.width
                if not continues:
                    layout = None
                layout = self._table(t, page, layout, text)
            last_page = page if tables[page] else last_page

    def _table(self, t: PageTable, page: int, layout: Layout | None, text: _TextIndex) -> Layout | None:
        rows = [[join_wrapped(c) for c in r] for r in t.rows]
        first = next((r for r in rows if r and r[0] and _is_figure_row(r)), None)
        value = next((c for c in first[1:] if parse_number(c) is not None), "") if first else ""
        ctx = (text.at(page, first[0], value) if first else None) or text.end_of(page - 1)
        pending: list[str] = []
        members = _Members()
        i = 0
        while i < len(rows):
            row = rows[i]
            found, span = header_layout(rows, i, self.year)
            if span:
                layout, pending, members = found, [], _Members()
                if _NONRECURRING_TITLE in normalize_label(row[0]):
                    ctx = _Context(ctx.unit, nonrecurring=True)  # the header names it: no text needed
                i += span
                continue
            i += 1
            if layout is None:
                figures = [c for c in row[1:] if clean_cell(c)]
                if row and row[0]:
                    self.key_value(row[0], figures, page, ctx)
                continue
            if len(row) != layout.width:
                continue
            label = row[layout.label_col]
            if not _is_figure_row(row, layout.label_col):
                if label:
                    pending = (pending + [label])[-MAX_WRAPPED_ROWS:]
                continue
            parts = pending + ([label] if label else [])
            pending = []
            parent = members.of("".join(parts))
            for k in range(len(parts)):
                candidate = "".join(parts[k:])
                pairs = self.resolve(candidate, layout, ctx, parent, row)
                if pairs:
                    self.row(row, page, pairs, ctx, candidate)
                    break
            members.read(_NOTE_REF.sub("", "".join(parts)))
        return layout

    # -- text layer ------------------------------------------------------------------------------

    def feed_text(self, page_texts: dict[int, str], text: _TextIndex) -> None:
        """Fill (field, year) pairs the tables missed from single text lines whose figures match the
        current header's columns one for one."""
        layout: _TextLayout | None = None
        members = _Members()
        for page, page_text in sorted(page_texts.items()):
            # A header cut by the page break: its tail on this page reads as label fragments, not columns.
            pending, header = [], []
            for n, line in enumerate(page_text.splitlines()):
                line = unicodedata.normalize("NFKC", line).strip()
                if _is_heading(line):
                    layout, header, pending, members = None, [], [], _Members()
                    continue
                if not line or _FURNITURE.search(line):
                    continue
                ctx = text.marks[page][n][1] if n < len(text.marks[page]) else text.end_of(page)
                segments = list(_segments(line))
                if not any(vals for _, vals in segments):
                    if _is_prose(line):
                        header, pending = [], []  # running text, not a table's header or label
                    elif _YEAR.search(line) or _QUARTER.search(line) or header:
                        header.append(line)
                        found = _text_layout("".join(header), self.year)
                        if found is not None:
                            layout, pending, members = found, [], _Members()
                    else:
                        pending = (pending + [line])[-MAX_WRAPPED_ROWS:]
                    continue
                header = []
                if len(segments) == 1 and self.key_value(segments[0][0], segments[0][1], page, ctx):
                    pending = []
                    continue
                if layout is None:
                    pending = []
                    continue
                for k, (label, vals) in enumerate(segments):
                    parts = (pending if k == 0 else []) + [label]
                    self._text_row(parts, vals, page, layout, ctx, members)
                pending = []

    def _text_row(self, parts: list[str], vals: list[str], page: int, layout: _TextLayout, ctx: _Context,
                  members: _Members) -> None:
        cells = layout.cells(vals)
        parent = members.of("".join(parts))
        members.read(_NOTE_REF.sub("", "".join(parts)))
        if cells is None:
            return
        grid = Layout(0, layout.columns, len(cells))
        for k in range(len(parts)):
            label = "".join(parts[k:])
            pairs = self.resolve(label, grid, ctx, parent, cells)
            if pairs:
                self.row(cells, page, pairs, ctx, label, fill_only=True)
                return


def _one_figure_per_year(layout: Layout, row: list[str], own: FieldDef) -> list[Column]:
    """In a sub-columned table, the columns of a row that prints at most one figure per year (不良贷款率
    1.06% | | 1.06% |), where ``own`` (the row's field) is read; an amount only from an amount column."""
    years: dict[tuple[int, bool | None], list[Column]] = {}
    for c in layout.columns:
        if c.index < len(row) and parse_number(row[c.index]) is not None:
            years.setdefault((c.year, c.restated), []).append(c)
    if not years or any(len(cols) > 1 for cols in years.values()):
        return []
    single = [cols[0] for cols in years.values()]
    if own.unit not in ("percent", "ratio") and any(c.measure not in (None, AMOUNT_MEASURE) for c in single):
        return []
    return single


def _is_prose(line: str) -> bool:
    """Running text (a note under a table): a sentence's punctuation, or a long line naming no period."""
    if "。" in line or re.search(r"[\u4e00-\u9fff][,;]", line):
        return True
    return len(re.sub(r"\s+", "", line)) > MAX_LABEL_LINE and not (_YEAR.search(line) or _QUARTER.search(line))


# A value token in the text layer: a figure (with % or parentheses), a dash for an empty cell, or a change
# or standard written in words ("减少4.07个百分点", "≥10.75(注2)", "上年为负") standing for one cell.
_WORD_CELLS = re.compile(
    r"(?:增加|减少|上升|下降)?\s*[+-]?\d+(?:\.\d+)?\s*个(?:\s*百(?:\s*分(?:\s*点)?)?)?"
    r"|[≥≤><]=?\s*\d+(?:\.\d+)?%?(?:\s*[(（]注\s*\d+[)）])?"
    r"|上年为负|不适用|N/A")
_VALUE_TOKEN = re.compile(r"^(?:[(（]?[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?[)）]?|[-−—]{1,2}|§)$")


_DATE_SPACES = re.compile(r"(?<=\d)\s+(?=[年月日])|(?<=[年月])\s+(?=\d)")


def _segments(line: str) -> Iterable[tuple[str, list[str]]]:
    """(label, value tokens) runs of a text line: a line may hold two table rows ("不良贷款率 1.06% 1.06% -
    拨备覆盖率 250.71% 277.63% -26.92 个百分点"). Dates keep their figures ("2024 年 12 月 31 日")."""
    tokens = _WORD_CELLS.sub(" § ", _DATE_SPACES.sub("", line)).split()
    label: list[str] = []
    vals: list[str] = []
    for tok in tokens:
        if _VALUE_TOKEN.match(tok):
            vals.append(tok)
        else:
            if vals:
                yield "".join(label), vals
                label, vals = [], []
            label.append(tok)
    if vals:
        yield "".join(label), vals
    elif label:
        yield "".join(label), []


@dataclass
class _TextLayout:
    kinds: list[str]  # per printed column: "value", or "skip" (change, standard); a note column, empty in the
    # rows of these tables, is left out
    columns: list[Column]  # indexes into the value cells of a row

    def cells(self, vals: list[str]) -> list[str] | None:
        """The row's value tokens as cells, or None when they do not match the columns one for one."""
        return vals if len(vals) == len(self.kinds) else None


_TEXT_HEADER = re.compile(
    r"(?P<quarter>(?:(?:19|20)\d{2}年)?(?:第[一二三四1-4]季度)(?:\(\d{1,2}-\d{1,2}月份?\))?)"
    r"|(?P<period>(?:19|20)\d{2}年?(?:\d{1,2}月\d{1,2}日|末|度|金额)?(?:\((?:调整后|调整前|重述后)\))?)"
    r"|(?P<change>(?:本期末?|本年末?|本报告期末?)?比上年(?:同期)?末?增减(?:\(%\))?|(?:本年)?同比增减(?:\(%\))?"
    r"|比上年(?:同期)?末?|增减(?:\(%\))?|变动(?:幅度|比例)?(?:\(%\))?)"
    r"|(?P<standard>标准值)|(?P<note>附注(?:\(如适用\))?|说明|备注)")


def _text_layout(header: str, report_year: int) -> _TextLayout | None:
    """Columns of a text-layer header; None when it cannot be read without doubt (qualifier rows under the
    years, group and parent side by side, one period twice)."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", header))
    tokens = list(_TEXT_HEADER.finditer(text))
    if not any(m["period"] or m["quarter"] for m in tokens):
        return None
    text = text[tokens[0].start():]
    if any(w in text for w in (*_GROUP, "本行", "母公司")) or re.search(r"(?<!\()(调整后|调整前)(?!\))", text):
        return None
    kinds: list[str] = []
    columns: list[Column] = []
    seen = set()
    for m in _TEXT_HEADER.finditer(text):
        if m["note"]:
            continue
        if m["change"] or m["standard"]:
            kinds.append("skip")
            continue
        cell = m.group(0)
        c = _classify(cell, report_year)
        kinds.append("value")
        if c.kind not in ("period", "quarter") or not c.year_end or c.year > report_year:
            continue
        if c.kind == "quarter" and c.year != report_year:
            continue
        key = (c.year, c.quarter, c.restated)
        if key in seen:
            return None
        seen.add(key)
        columns.append(Column(len(kinds) - 1, c.year, c.quarter, c.restated))
    if not columns:
        return None
    return _TextLayout(kinds, columns)


def extract_indicators(tables: dict[int, list[PageTable]], page_texts: dict[int, str], report_year: int,
                       fields: FieldDictionary | None = None) -> IndicatorResult:
    """``tables`` and ``page_texts`` of the located indicator pages; values for every year printed."""
    parser = IndicatorParser(report_year, fields)
    index = _TextIndex(page_texts)
    parser.feed_tables(tables, index)
    parser.feed_text(page_texts, index)
    return parser.found.result()


def quarter_field(quarter: int, annual: str) -> str:
    """第一季度营业收入 for (1, 营业收入)."""
    return QUARTERS[quarter - 1] + annual

