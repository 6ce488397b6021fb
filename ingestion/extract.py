"""One report → everything it contributes, without touching the database (so workers can run it)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ingestion.audit import AuditResult, audit_statements
from ingestion.basic_info import extract_basic, extract_report_facts
from ingestion.business import Segment, business_pages, extract_business, extract_segments
from ingestion.chunks import make_chunks
from ingestion.filenames import ReportIdentity
from ingestion.identity import report_identity
from ingestion.indicators import extract_indicators
from ingestion.locate import locate, statement_unit
from ingestion.pdf_text import PdfText, read_pdf_text
from ingestion.positioned import positioned_tables
from ingestion.keyvalue import TextReading
from ingestion.rd import extract_rd, read_rd_text
from ingestion.sections import find_sections
from ingestion.staff import extract_staff, read_staff_text
from ingestion.statement_text import last_page, text_tables
from ingestion.statements import StatementResult, parse_statement
from ingestion.tables import extract_tables
from knowledge.fields import field_dictionary
from knowledge.store import Company, Value
from understanding.entities import core_forms
from understanding.romanized import latin_aliases, latin_key


@dataclass
class ReportExtraction:
    path: str
    sha256: str
    identity: ReportIdentity
    pages: list[str]
    current: list[Value] = field(default_factory=list)  # the report's own year
    prior: list[Value] = field(default_factory=list)  # the prior-year column
    restated: list[Value] = field(default_factory=list)  # prior-year figures marked 调整后
    # Earlier years' figures of the indicator tables (主要会计数据 prints three years): year → values, a
    # 调整前 figure before its 调整后 one (written in order, the 调整后 one stays in the cell)
    earlier: dict[int, list[Value]] = field(default_factory=dict)
    statements: dict[str, StatementResult] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    audit: AuditResult | None = None  # the statements' accounting identities (ingestion.audit), checked by the worker
    # The registry entry, built by the worker too: its pinyin aliases cost the single writer nothing.
    company: Company | None = None
    # The 主营业务分行业/分产品/分地区 rows (ingestion.business): the company's own segments, stored in their table.
    segments: list[Segment] = field(default_factory=list)
    # The text chunks for retrieval (ingestion.chunks), cut by the worker too; the writer adds the report's id
    # and the identity it stores the report under.
    chunks: list[dict] = field(default_factory=list)


def registry_company(ident: ReportIdentity, current: list[Value]) -> Company:
    """The registry entry: names and codes as printed — an A+B-share company's every short name and
    code (「苏常柴 A、苏常柴 B」, 「000570、200570」) — and its Latin-letter names."""
    printed = {v.field: str(v.value) for v in current
               if v.field in ("公司简称", "证券代码", "外文名称", "外文名称缩写", "变更前股票简称")}
    short_names = share_classes(ident.short_name) + share_classes(printed.get("公司简称"))
    # A former short name (四方冷链, 金宇集团) still names the company; so does its English abbreviation (SQTEG).
    former = [n for n in share_classes(printed.get("变更前股票简称")) if re.search(r"[\u4e00-\u9fff]", n)]
    abbreviation = [k for k in [latin_key(printed.get("外文名称缩写") or "")] if len(k) >= 3]
    short_name = short_names[0] if short_names else None
    codes = [c for c in share_classes(printed.get("证券代码")) if re.fullmatch(r"\d{6}", c) and c != ident.code]
    full_name = ident.full_name or short_name or ident.code
    cores = core_forms(Company(ident.code, full_name, short_name))
    latin = latin_aliases([*short_names, *cores], printed.get("外文名称"))
    aliases = tuple(dict.fromkeys([*short_names, *codes, *former, *abbreviation, *latin]))
    return Company(ident.code, full_name, short_name, aliases)


COST_AS_PRINTED = "报表中以减项（负数）列示"


def costs_as_amounts(values: list[Value]) -> list[Value]:
    """A cost printed as a deduction (a bank's 利息支出 (104,954), 所得税费用 (10,230)) is stored as the amount
    it is, positive, the print kept in the note; the statements themselves (the audit reads them) keep the
    printed signs."""
    fields = field_dictionary()
    out = []
    for v in values:
        if v.field in fields and fields[v.field].cost and isinstance(v.value, Decimal) and v.value < 0:
            v = dataclasses.replace(v, value=-v.value, note="；".join(filter(None, [v.note, COST_AS_PRINTED])))
        out.append(v)
    return out


def share_classes(cell: str | None) -> list[str]:
    """「苏常柴 A、苏常柴 B」 → [苏常柴A, 苏常柴B, 苏常柴]: each share class's name (or code), then the name
    they share."""
    parts = [re.sub(r"\s+", "", p) for p in re.split(r"[、,，;；/]", cell or "")]
    parts = [p for p in parts if p]
    bases = [m.group(1) for p in parts if len(parts) > 1 and (m := re.fullmatch(r"(.+?)[AB]股?", p))]
    return list(dict.fromkeys(parts + bases))


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fill_from(res: StatementResult, alt: StatementResult) -> None:
    """Add the fields ``res`` lacks from ``alt``, per column."""
    for mine, theirs in ((res.current, alt.current), (res.prior, alt.prior)):
        have = {v.field for v in mine}
        mine += [v for v in theirs if v.field not in have]


def _until_last(kind: str, pages: list[int], text: PdfText) -> list[int]:
    last = last_page(kind, {p: text.page(p) for p in pages})
    return pages if last is None else pages[:pages.index(last) + 1]


@dataclass
class PositionedStatements:
    results: dict[str, StatementResult] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)  # statements taken as read, with no camelot pass
    why_not: dict[str, str] = field(default_factory=dict)  # statement → why camelot reads it after all


def read_statements_positioned(path: Path, read: dict[str, list[int]], boundaries: dict[str, set[int]],
                               text: PdfText) -> PositionedStatements:
    """Each statement read from the text layer's positions (``ingestion.positioned``). One is settled — camelot
    does not read it — when every figure found a column, it was read to its end (its last line item, or the
    next statement's header) with both columns filled, and its accounting identities were checked and all
    hold: a missed or misplaced line item breaks a sum."""
    out = PositionedStatements()
    if not read:
        return out
    by_page, uncertain = positioned_tables(path, sorted({p for ps in read.values() for p in ps}))
    for kind, pages in read.items():
        res = parse_statement(kind, [t for p in pages for t in by_page.get(p, [])],
                              statement_unit(kind, text.page(pages[0])), boundaries=boundaries.get(kind, set()))
        out.results[kind] = res
        own_doubts = [f"p.{p}: {why}" for p in pages for why in uncertain.get(p, [])]
        audit = audit_statements({kind: res})
        if own_doubts:
            out.why_not[kind] = own_doubts[0]
        elif not res.ended or not (res.current and res.prior):
            out.why_not[kind] = "not read to its end in both columns"
        elif not audit.checked or audit.failed:
            out.why_not[kind] = "no identity checked" if not audit.checked else audit.failed[0].brief(0)
        else:
            out.settled.add(kind)
    return out


# Tables read from their pages' text first (:class:`ingestion.keyvalue.TextReading`); camelot reads one only when
# that reading is in doubt.
TEXT_FIRST_TABLES = {"rd": read_rd_text, "staff": read_staff_text}
TABLE_EXTRACTORS = {"rd": extract_rd, "staff": extract_staff}


def extract_report(path: str | Path, sha256: str | None = None, *, trust_content: bool = False) -> ReportExtraction:
    """Raises :class:`~ingestion.pdf_text.PdfError` for a file that cannot be ingested, and
    :class:`~ingestion.identity.IdentityMismatch` when its name declares another company-year than its pages
    (``trust_content``: the pages' identity is taken instead)."""
    path = Path(path)
    t0, cpu0 = time.perf_counter(), time.process_time()
    text = read_pdf_text(path)
    t1 = time.perf_counter()
    sections = find_sections(text.pages)
    where = locate(text.pages, sections)
    # A statement's pages are read only up to the one printing its last line item.
    read = {kind: _until_last(kind, pages, text) for kind, pages in where.statements.items()}
    positioned = read_statements_positioned(path, read, where.boundaries, text)
    t_pos = time.perf_counter()
    text_read: dict[str, TextReading] = {
        kind: reader({p: text.page(p) for p in where.tables[kind]})
        for kind, reader in TEXT_FIRST_TABLES.items() if where.tables.get(kind)}
    from_text = {kind: r.values for kind, r in text_read.items() if r.settled}  # tables camelot is spared
    # camelot (the costly part) reads the other tables, and a statement the positioned reader could not settle.
    unsettled = [kind for kind in read if kind not in positioned.settled]
    camelot_tables = [kind for kind in where.tables if kind not in from_text]
    tables = extract_tables(path, sorted({p for ps in (*(read[k] for k in unsettled),
                                                       *(where.tables[k] for k in camelot_tables)) for p in ps}))
    t2 = time.perf_counter()

    def subset(pages: list[int]):
        return {p: tables.get(p, []) for p in pages}, {p: text.page(p) for p in pages}

    basic = extract_basic(*subset(where.tables.get("basic", [])))
    ident = report_identity(path, text.pages, basic, trust_content=trust_content)  # before the statements: fail fast
    # Officers and shareholder counts, printed outside 公司简介 (the 公司简介 tables win where both print one).
    have = {v.field for v in basic}
    basic += [v for v in extract_report_facts(text.pages, ident.year) if v.field not in have]
    rd, staff = (from_text[kind] if kind in from_text else TABLE_EXTRACTORS[kind](*subset(where.tables.get(kind, [])))
                 for kind in ("rd", "staff"))
    have = {v.field for v in rd}
    current = basic + rd + [v for v in staff if v.field not in have]
    prior: list[Value] = []
    restated: list[Value] = []
    statements = {}
    for kind, pages in where.statements.items():
        unit = statement_unit(kind, text.page(pages[0]))
        if kind in positioned.settled:
            res = positioned.results[kind]
        else:
            res = parse_statement(kind, [t for p in read[kind] for t in tables.get(p, [])], unit,
                                  boundaries=where.boundaries.get(kind, set()))
            if kind in positioned.results:
                fill_from(res, positioned.results[kind])
        # The text layer fills what the tables missed (camelot cut a table short, or found none).
        fill_from(res, parse_statement(kind, text_tables(kind, {p: text.page(p) for p in pages}), unit))
        statements[kind] = res
        current += res.current
        prior += res.prior
        restated += res.restated
    # The headline indicators fill the report's year where the statements are silent (扣非净利润, ROE, a
    # bank's 归属于本行股东的净利润 and ratios), and give the earlier years they print.
    indicators = extract_indicators(*subset(where.tables.get("indicators", [])), ident.year)
    have = {v.field for v in current}
    current += [v for v in indicators.of_year(ident.year) if v.field not in have]
    earlier = {year: values for year, values in indicators.by_year.items() if year < ident.year}
    # 主营业务 and 前五名客户/供应商, read from the page text of 经营情况讨论与分析 (no camelot page).
    have = {v.field for v in current}
    found = business_pages(text.pages, sections)  # one scan of the front part serves both readers
    current += [v for v in extract_business(text.pages, sections, found=found) if v.field not in have]
    segments = extract_segments(text.pages, sections, found=found)
    t3 = time.perf_counter()
    return ReportExtraction(
        path=str(path), sha256=sha256 or file_sha256(path), identity=ident, pages=text.pages,
        current=costs_as_amounts(current), prior=costs_as_amounts(prior), restated=costs_as_amounts(restated),
        earlier={year: costs_as_amounts(values) for year, values in earlier.items()}, statements=statements,
        audit=audit_statements(statements), company=registry_company(ident, current), segments=segments,
        chunks=make_chunks(text.pages, sections, company_code=ident.code, year=ident.year),
        timings={"text_s": t1 - t0, "positioned_s": t_pos - t1, "tables_s": t2 - t_pos, "parse_s": t3 - t2,
                 "total_s": t3 - t0, "camelot_statements": float(len(unsettled)),
                 "camelot_tables": float(len(camelot_tables)),
                 "cpu_s": time.process_time() - cpu0},  # this process's CPU: the figure a busy machine leaves honest
    )
