"""Page recall: where the consolidated statements, the basic-info, staff and R&D tables and the headline
indicators (主要会计数据和财务指标, with a bank's 贷款资产质量 tables) are.

Statements are found by their heading line (a line that is only "合并资产负债表", possibly numbered),
never by a mention in running text (the audit opinion names them in sentences) or the table of contents.
The 母公司 statements are not targets; their headings end the consolidated ones.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from ingestion.numbers import find_unit
from ingestion.sections import FINANCIAL_REPORT_TITLES, SectionMap, last_front_page

STATEMENT_KINDS = ("balance", "income", "cash_flow")

# Heading lines of the consolidated statements. Banks and insurers print group and parent side by side
# under one heading ("合并及银行资产负债表"); their first value columns are the group's.
CONSOLIDATED_HEADINGS = {
    "balance": ("合并资产负债表", "合并及公司资产负债表", "合并及母公司资产负债表", "合并及银行资产负债表",
                "合并财务状况表", "资产负债表(合并)"),
    "income": ("合并利润表", "合并及公司利润表", "合并及母公司利润表", "合并及银行利润表", "合并损益表",
               "合并利润及利润分配表", "利润表(合并)"),
    "cash_flow": ("合并现金流量表", "合并及公司现金流量表", "合并及母公司现金流量表", "合并及银行现金流量表",
                  "现金流量表(合并)"),
}
# A company without subsidiaries prints the plain headings only.
PLAIN_HEADINGS = {"balance": ("资产负债表",), "income": ("利润表", "损益表"), "cash_flow": ("现金流量表",)}
# Headings that end a statement: any other statement, the parent company's, and the equity statement.
ENDING_HEADINGS = (
    *[h for hs in CONSOLIDATED_HEADINGS.values() for h in hs],
    "母公司资产负债表", "母公司利润表", "母公司现金流量表", "公司资产负债表", "公司利润表", "公司现金流量表",
    # Banks print the parent's statements as 银行… after the group's (合并…) ones.
    "银行资产负债表", "银行利润表", "银行现金流量表",
    "合并所有者权益变动表", "合并股东权益变动表", "母公司所有者权益变动表", "母公司股东权益变动表",
    "所有者权益变动表", "股东权益变动表", "合并及银行股东权益变动表", "合并及公司股东权益变动表",
)
MAX_STATEMENT_PAGES = 8

# Keyword recall for the key-value tables; a page must hit at least `min_hits` of them.
TABLE_KEYWORDS = {
    "basic": (("公司的中文名称", "公司的法定代表人", "公司注册地址", "公司办公地址", "电子信箱", "公司网址",
               "基本情况简介", "公司信息", "中文简称", "股票简称", "联系人和联系方式"), 3),
    "staff": (("在职员工的数量合计", "专业构成", "教育程度", "员工情况", "母公司在职员工的数量", "生产人员",
               "本科", "大专"), 3),
    # SSE: 研发投入情况表 with 本期费用化研发投入…; SZSE: 研发人员数量 / 研发投入金额 over several years.
    "rd": (("研发投入合计", "本期费用化研发投入", "本期资本化研发投入", "研发投入总额占营业收入比例",
            "研发人员的数量", "研发投入情况表", "研发投入资本化的比重", "研发投入金额", "研发人员数量占比",
            "研发投入占营业收入比例", "资本化研发投入占研发投入的比例"), 2),
}
# Sections each table lives in (by title keyword), used to prefer the right candidate page.
TABLE_SECTIONS = {"basic": ("公司简介",), "staff": ("员工",), "rd": ("经营情况", "管理层讨论")}
# More words that carry a table onto the next page (公司简介's 备置地点 and auditor rows may stand there alone).
NEXT_PAGE_KEYWORDS = {"basic": ("年度报告备置地点", "会计师事务所")}

# 主要会计数据和财务指标 (three years, 分季度, 非经常性损益; banks' 关键指标 and 监管指标): the run of pages from
# the first that names 主要会计数据 (with 加权平均净资产收益率 within three pages), while pages keep naming
# indicators, up to the page where the next section starts.
INDICATOR_START = ("主要会计数据", "会计数据和财务指标")
INDICATOR_CONFIRM = "加权平均净资产收益率"
INDICATOR_KEYWORDS = ("主要会计数据", "主要财务指标", "加权平均净资产收益率", "非经常性损益", "分季度",
                      "每股收益", "不良贷款率", "拨备覆盖率", "资本充足率", "净息差", "成本收入比", "流动性覆盖率",
                      "净稳定资金比例", "杠杆率", "偿付能力", "风险覆盖率", "净资本")
MAX_INDICATOR_PAGES = 8
# A bank's 贷款资产质量 tables in 管理层讨论与分析 (五级分类, 按产品划分 with 不良率, 逾期 ratios), read with the
# indicators: the first page printing the five classes, and the next when it goes on with 不良率 columns.
ASSET_QUALITY_START = ("五级分类",)
ASSET_QUALITY_CLASSES = ("关注", "次级", "可疑", "损失", "不良贷款")
ASSET_QUALITY_NEXT = "不良率"

_ENUM = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|\(?[一二三四五六七八九十\d]+[)、.]|[(（]?[一二三四五六七八九十]+[)）])")
_TRAIL = re.compile(r"\((?:续|续表|合并|未经审计)\)$")


@lru_cache(maxsize=1 << 16)  # locate reads every line of the financial section once per heading kind
def heading_form(line: str) -> str:
    """A line as a possible heading: NFKC, no spaces, no enumeration prefix or (续) suffix."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", line))
    text = _ENUM.sub("", text)
    return _TRAIL.sub("", text)


@dataclass
class Located:
    statements: dict[str, list[int]] = field(default_factory=dict)  # kind → pages, in order
    tables: dict[str, list[int]] = field(default_factory=dict)  # basic/staff/rd → pages
    boundaries: dict[str, set[int]] = field(default_factory=dict)  # kind → pages where another heading stands

    def all_pages(self) -> list[int]:
        pages = {p for ps in (*self.statements.values(), *self.tables.values()) for p in ps}
        return sorted(pages)


def _heading_pages(pages: list[str], forms: set[str], start: int) -> list[int]:
    return [
        n for n in range(start, len(pages) + 1)
        if any(heading_form(line) in forms for line in pages[n - 1].splitlines())
    ]


def _financial_start(sections: SectionMap | None) -> int:
    fin = sections.find(*FINANCIAL_REPORT_TITLES) if sections else None
    return fin.start if fin else 1


ALL_HEADINGS = frozenset(ENDING_HEADINGS) | {h for hs in PLAIN_HEADINGS.values() for h in hs}


def locate_statements(pages: list[str], sections: SectionMap | None = None
                      ) -> tuple[dict[str, list[int]], dict[str, set[int]]]:
    """Pages of each statement, and per statement the pages where another statement's heading stands
    (a continuation heading "合并资产负债表（续）" is the statement's own and does not end it)."""
    start = _financial_start(sections)
    out: dict[str, list[int]] = {}
    boundaries: dict[str, set[int]] = {}
    for kind in STATEMENT_KINDS:
        own = set(CONSOLIDATED_HEADINGS[kind])
        found = _heading_pages(pages, own, start)
        if not found:
            own = set(PLAIN_HEADINGS[kind])
            found = _heading_pages(pages, own, start)
        if not found:
            continue
        first = found[0]
        others = _heading_pages(pages, set(ALL_HEADINGS - own), first)
        boundaries[kind] = set(others)
        # The statement runs to the page where the next heading stands (inclusive: it may end on that
        # page above the heading).
        later = [p for p in others if p > first]
        last = min(later[0] if later else len(pages), first + MAX_STATEMENT_PAGES - 1, len(pages))
        out[kind] = list(range(first, last + 1))
    return out, boundaries


def locate_tables(pages: list[str], sections: SectionMap | None = None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for kind, (keywords, min_hits) in TABLE_KEYWORDS.items():
        scored = []
        for n, text in enumerate(pages, 1):
            flat = re.sub(r"\s+", "", text)
            hits = sum(1 for k in keywords if k in flat)
            if hits >= min_hits and "......" not in flat:
                sec = sections.at(n) if sections else None
                in_section = bool(sec and any(k in sec.title for k in TABLE_SECTIONS[kind]))
                scored.append((in_section, hits, -n, n))
        if not scored:
            continue
        best = max(scored)[3]
        # The table may run onto the next page: take it when it names any keyword too.
        nxt = re.sub(r"\s+", "", pages[best]) if best < len(pages) else ""
        carry = (*keywords, *NEXT_PAGE_KEYWORDS.get(kind, ()))
        out[kind] = [best] + ([best + 1] if any(k in nxt for k in carry) else [])
    return out


def _front_part(pages: list[str], sections: SectionMap | None) -> tuple[list[str], int]:
    """The pages without whitespace, and the last page before the financial report."""
    return [re.sub(r"\s+", "", text) for text in pages], last_front_page(sections, len(pages))


def locate_indicators(pages: list[str], sections: SectionMap | None = None) -> list[int]:
    flat, last = _front_part(pages, sections)
    for start in range(1, last + 1):
        text = flat[start - 1]
        if "......" in text or not any(k in text for k in INDICATOR_START):
            continue
        if not any(INDICATOR_CONFIRM in flat[p - 1] for p in range(start, min(start + 3, last + 1))):
            continue
        own = sections.at(start) if sections else None
        found = [start]
        for p in range(start + 1, min(start + MAX_INDICATOR_PAGES, last + 1)):
            if not any(k in flat[p - 1] for k in INDICATOR_KEYWORDS):
                break
            found.append(p)
            sec = sections.at(p) if sections else None
            if sec is not None and sec is not own and sec.start == p:
                break  # the next section opens here; the table may still end on this page
        return found
    return []


def locate_asset_quality(pages: list[str], sections: SectionMap | None = None) -> list[int]:
    flat, last = _front_part(pages, sections)
    for n in range(1, last + 1):
        text = flat[n - 1]
        if "......" in text or not any(k in text for k in ASSET_QUALITY_START):
            continue
        if all(k in text for k in ASSET_QUALITY_CLASSES):
            return [n] + ([n + 1] if n < last and ASSET_QUALITY_NEXT in flat[n] else [])
    return []


def locate(pages: list[str], sections: SectionMap | None = None) -> Located:
    statements, boundaries = locate_statements(pages, sections)
    tables = locate_tables(pages, sections)
    indicators = sorted(set(locate_indicators(pages, sections)) | set(locate_asset_quality(pages, sections)))
    if indicators:
        tables["indicators"] = indicators
    return Located(statements, tables, boundaries)


def statement_unit(kind: str, page_text: str) -> str:
    """The unit printed under the statement's heading (not one of a table above it on the page)."""
    forms = set(CONSOLIDATED_HEADINGS[kind]) | set(PLAIN_HEADINGS[kind])
    lines = page_text.splitlines()
    at = next((i for i, line in enumerate(lines) if heading_form(line) in forms), 0)
    return find_unit("\n".join(lines[at:at + 12]), find_unit(page_text))
