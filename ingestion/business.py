"""经营情况讨论与分析 from the page text: the 主营业务 totals, the 主营业务分行业 segments, and the 前五名客户/供应商
concentration (patterns and labels in knowledge/business.toml).

Read from the text layer (no camelot page): the figures stand in sentences (「前五名客户销售额 32,932.48 万元，占年度
销售总额 28.02%」, 「公司实现主营业务收入 1,135,639,368.05 元」) and in a segment table whose rows are one line each.
A figure is kept only as exact as the report prints it: an amount printed in 万元 is no amount in 元, unless a
row printed in 元 agrees with it (the 合计 of the 前五名 list, the sum of the 分行业 rows).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ingestion.numbers import find_unit, parse_number, to_yuan
from ingestion.sections import SectionMap, last_front_page
from knowledge.business import business_rules
from knowledge.store import Value

MAIN_REVENUE, MAIN_COST, MAIN_MARGIN = "主营业务收入", "主营业务成本", "主营业务毛利率"
# A segment row's 毛利率 must agree with its own 营业收入 and 营业成本 to half a unit of its last printed digit
# (and this much for the division): a row misread (a wrapped cell, a column shifted) fails it.
MARGIN_SLACK = Decimal("0.001")
# How many lines above a segment table its 单位 line may stand (above the block's first table, on the page before).
UNIT_LOOKBACK = 60
_AMOUNT = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_PERCENT = r"-?\d+(?:\.\d+)?%?"
# One segment row, its cells joined by spaces: a name (a wrapped one keeps a space: 罐式集装 箱), 营业收入, 营业成本,
# 毛利率, and the changes of the three on the prior year (the last in points: 「减少 3.96 个百分点」).
_ROW = re.compile(
    r"(?P<name>[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z()、/·-]*(?: [\u4e00-\u9fff()]+)*) "
    rf"(?P<revenue>{_AMOUNT}) (?P<cost>{_AMOUNT}) (?P<margin>{_PERCENT}) (?P<revenue_change>{_PERCENT}) "
    rf"(?P<cost_change>{_PERCENT}) (?P<direction>增加|减少|上升|下降)? ?(?P<margin_change>{_PERCENT})(?: ?个 ?百分点)?")
_FALLING = ("减少", "下降")


@dataclass(frozen=True)
class Segment:
    """One row of 主营业务分行业情况, amounts in 元, rates in percent (changes of 毛利率 in points)."""
    name: str
    revenue: Decimal
    cost: Decimal
    margin: Decimal
    revenue_change: Decimal
    cost_change: Decimal
    margin_change: Decimal
    page: int
    raw_text: str
    dimension: str = "分行业"  # which table printed it: 分行业 | 分产品 | 分地区 (knowledge/business.toml)


@dataclass(frozen=True)
class Printed:
    """A figure as a sentence prints it: the value in its unit, and how many decimals it shows."""
    value: Decimal
    unit: str
    page: int
    raw_text: str

    @property
    def places(self) -> int:
        return max(0, -self.value.as_tuple().exponent)

    @property
    def exact_yuan(self) -> Decimal | None:
        """The amount in 元 where it is printed to the 元 (or finer), else None: 32,932.48 万元 is rounded."""
        return self.value if self.unit == "元" else None

    def agrees(self, yuan: Decimal) -> bool:
        """Whether an amount in 元 rounds to this figure at the unit and decimals it is printed with."""
        scaled = yuan / to_yuan(Decimal(1), self.unit)
        return scaled.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP) == self.value


def rules() -> dict:
    return business_rules()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", _fold(text))


def business_pages(pages: list[str], sections: SectionMap | None = None) -> list[int]:
    """The pages (1-based) before the financial report that name a 主营业务 or 前五名 figure."""
    last = last_front_page(sections, len(pages))
    keywords = rules()["pages"]["keywords"]
    # Plain whitespace removal is enough for Chinese keywords, and cheap on every page of a long report.
    flat = ("".join(pages[n - 1].split()) for n in range(1, last + 1))
    return [n for n, text in enumerate(flat, 1) if any(k in text for k in keywords)]


def extract_business(pages: list[str], sections: SectionMap | None = None, *,
                     found: list[int] | None = None) -> list[Value]:
    """The report's 主营业务 totals and 前五名客户/供应商 figures, each once (the first page that prints it).
    ``found``: the report's ``business_pages``, when the caller has them already."""
    found = business_pages(pages, sections) if found is None else found
    texts = {n: pages[n - 1] for n in found}
    # A table may run onto the next page: a page is read with the one after it.
    continued = {n: texts[n] + "\n" + (pages[n] if n < len(pages) else "") for n in found}
    values = [*_concentration(texts, continued), *_main_business(texts, continued)]
    out: dict[str, Value] = {}
    for v in values:
        out.setdefault(v.field, v)
    return list(out.values())


# 前五名客户 / 前五名供应商 -----------------------------------------------------------------------------------
def _concentration(texts: dict[int, str], continued: dict[int, str]) -> list[Value]:
    out: list[Value] = []
    for spec in rules()["concentration"]:
        for page, text in texts.items():
            found = _concentration_on(spec, page, text, continued[page])
            if found:
                out += found
                break
    return out


def _concentration_on(spec: dict, page: int, text: str, continued: str) -> list[Value]:
    flat = _flat(text)
    amount_field, share_field = spec["amount_field"], spec["share_field"]
    for pattern in spec["sentences"]:
        if m := re.search(pattern, flat):
            amount = _printed(m, page)
            share = Decimal(m["share"])
            values = [Value(share_field, share, page=page, raw_label=m[0], raw_text=m["share"] + "%")]
            exact = amount.exact_yuan if amount else None
            if exact is None and amount is not None:
                exact = _total_row(continued, amount, share)
            if exact is not None:
                values.append(Value(amount_field, exact, page=page, raw_label=m[0], raw_text=m["amount"] + m["unit"]))
            return values
    values = []
    for pattern in spec["amount_rows"]:
        if (m := re.search(pattern, flat)) and (amount := parse_number(m["amount"])) is not None:
            values.append(Value(amount_field, to_yuan(amount, m["unit"]), page=page, raw_label=m[0],
                                raw_text=m["amount"]))
            break
    for pattern in spec["share_rows"]:
        if m := re.search(pattern, flat):
            values.append(Value(share_field, Decimal(m["share"]), page=page, raw_label=m[0], raw_text=m["share"] + "%"))
            break
    return values


def _printed(m: re.Match, page: int) -> Printed | None:
    value = parse_number(m["amount"])
    return Printed(value, m["unit"], page, m[0]) if value is not None else None


def _total_row(text: str, amount: Printed, share: Decimal) -> Decimal | None:
    """The 元 amount of the list's 合计 row that agrees with the sentence's rounded amount and its share."""
    pattern = re.compile(rules()["concentration_total_row"]["pattern"])
    for line in _fold(text).splitlines():
        m = pattern.match(line.strip())
        if m and Decimal(m["share"]) == share and (total := parse_number(m["amount"])) is not None \
                and amount.agrees(total):
            return total
    return None


# 主营业务 ------------------------------------------------------------------------------------------------
def _main_business(texts: dict[int, str], continued: dict[int, str]) -> list[Value]:
    said = _main_business_sentences(texts)
    segments = next((s for page in texts if (s := segment_rows(continued[page], page))), [])
    total = next((s for s in segments if s.name in rules()["segments"]["total_rows"]), None)
    parts = [s for s in segments if s is not total]
    out = [v for name, column in ((MAIN_REVENUE, "revenue"), (MAIN_COST, "cost"))
           if (v := _main_amount(name, said.get(name), total, parts, column)) is not None]
    if (margin := said.get(MAIN_MARGIN)) is not None:
        out.append(Value(MAIN_MARGIN, margin.value, page=margin.page, raw_label=margin.raw_text,
                         raw_text=f"{margin.value}%"))
    elif total is not None:
        out.append(Value(MAIN_MARGIN, total.margin, page=total.page, raw_label=total.name, raw_text=total.raw_text))
    return out


def _main_amount(name: str, said: Printed | None, total: Segment | None, parts: list[Segment],
                 column: str) -> Value | None:
    """主营业务收入 or 成本: the table's total row, else the sentence's figure in 元, else the sum of the segment
    rows where the sentence's rounded figure (万元) agrees with it. Where a sentence and the table disagree,
    nothing is kept."""
    if total is not None:
        amount = getattr(total, column)
        if said is not None and not said.agrees(amount):
            return None
        return Value(name, amount, page=total.page, raw_label=total.name, raw_text=total.raw_text)
    if said is None:
        return None
    summed = sum((getattr(s, column) for s in parts), Decimal(0)) if parts else None
    if said.exact_yuan is not None:
        if summed is not None and summed != said.exact_yuan:
            return None
        return Value(name, said.exact_yuan, page=said.page, raw_label=said.raw_text, raw_text=said.raw_text)
    if summed is not None and said.agrees(summed):
        return Value(name, summed, page=parts[0].page, raw_label=rules()["segments"]["heading"],
                     raw_text=" + ".join(f"{s.name} {getattr(s, column)}" for s in parts),
                     note=f"{rules()['segments']['heading']}各行之和，与年报文字「{said.raw_text}」一致")
    return None


def _main_business_sentences(texts: dict[int, str]) -> dict[str, Printed]:
    """The company's own 主营业务收入, 成本 and 毛利率 as its sentences print them (the first of each): read from
    the first such figure whose clause has the company as its subject (「报告期内，公司实现主营业务收入…」) to the
    end of that sentence or the segment cue (「其中，生物制药产业…」), whichever comes first."""
    spec = rules()["main_business"]
    patterns = {MAIN_REVENUE: spec["revenue"], MAIN_COST: spec["cost"], MAIN_MARGIN: spec["margin"]}
    out: dict[str, Printed] = {}
    for page, text in texts.items():
        for sentence in _flat(text).split("。"):
            at = _company_figure(sentence, patterns.values(), spec["subjects"])
            if at is None:
                continue
            own = sentence[at:].split(spec["segment_cue"])[0]
            for name, pattern in patterns.items():
                if name in out or not (m := re.search(pattern, own)):
                    continue
                if name == MAIN_MARGIN:
                    out[name] = Printed(Decimal(m["share"]), "%", page, m[0])
                elif (p := _printed(m, page)) is not None:
                    out[name] = p
    return out


def _company_figure(sentence: str, patterns, subjects: list[str]) -> int | None:
    """Where the first 主营业务 figure of ``sentence`` whose clause names the company as subject starts."""
    starts = sorted(m.start() for pattern in patterns for m in re.finditer(pattern, sentence))
    for start in starts:
        clause = re.split(r"[,;:，；：]", sentence[:start])[-1]
        if any(subject in clause for subject in subjects):
            return start
    return None


def segment_rows(text: str, page: int, heading: str | None = None, dimension: str = "分行业") -> list[Segment]:
    """The rows of the table under ``heading`` (主营业务分行业情况) on ``text`` (a page with the next one), in 元,
    every row cited on ``page``; a row whose 毛利率 disagrees with its 营业收入 and 营业成本 is left out."""
    return _table_rows([(page, line) for line in text.splitlines()], heading or rules()["segments"]["heading"],
                       dimension)


def extract_segments(pages: list[str], sections: SectionMap | None = None, *,
                     found: list[int] | None = None) -> list[Segment]:
    """Every row of the 主营业务分行业/分产品/分地区 tables (those knowledge/business.toml names), each table read
    once, from the first page before the financial report that prints its heading, and each row cited on the
    page it stands on (a table may run onto the next page). Total rows (合计) are left out: they are the
    company's 主营业务, not a segment. ``found`` as for ``extract_business``."""
    spec = rules()["segments"]
    found = business_pages(pages, sections) if found is None else found
    out: list[Segment] = []
    for table in spec["tables"]:
        for n in found:
            # The page before is read too: a table's 单位 line may stand above an earlier table of its block.
            lines = [(p, line) for p in range(max(1, n - 1), min(len(pages), n + 1) + 1)
                     for line in pages[p - 1].splitlines()]
            rows = _table_rows(lines, table["heading"], table["dimension"], on_page=n)
            if rows:
                out += [r for r in rows if r.name not in spec["total_rows"]]
                break
    return out


def _table_rows(lines: list[tuple[int, str]], heading: str, dimension: str, on_page: int | None = None
                ) -> list[Segment]:
    """The rows under the first line that is ``heading`` (on page ``on_page``, where given), up to a line
    naming any of the table ends; ``lines`` are (page, line)."""
    spec = rules()["segments"]
    folded = [(page, _fold(line).strip()) for page, line in lines]
    start = next((i for i, (page, line) in enumerate(folded) if re.sub(r"\s+", "", line) == heading
                  and on_page in (None, page)), None)
    if start is None:
        return []
    unit = _unit_above(folded[:start + 1])
    joined, line_starts = "", []
    for page, line in folded[start + 1:]:
        if any(end in re.sub(r"\s+", "", line) for end in spec["ends"]):
            break
        if line:
            line_starts.append((len(joined), page))
            joined += re.sub(r"\s+", " ", line) + " "
    return [s for m in _ROW.finditer(joined)
            if (s := _segment(m, unit, _page_at(line_starts, m.start("revenue")), dimension)) is not None]


def _unit_above(lines: list[tuple[int, str]]) -> str:
    """The unit of the nearest 单位 line at or above the heading: one 单位 line serves every table of the
    分行业、分产品、分地区 block; 元 where none is printed."""
    for _, line in reversed(lines[-UNIT_LOOKBACK:]):
        if unit := find_unit(line, default=""):
            return unit
    return "元"


def _page_at(line_starts: list[tuple[int, int]], offset: int) -> int:
    """The page of the line that holds ``offset`` of the joined table text."""
    return next(page for start, page in reversed(line_starts) if start <= offset)


def _segment(m: re.Match, unit: str, page: int, dimension: str) -> Segment | None:
    numbers = {k: parse_number(m[k]) for k in ("revenue", "cost", "margin", "revenue_change", "cost_change",
                                               "margin_change")}
    if any(v is None for v in numbers.values()) or numbers["revenue"] == 0:
        return None
    revenue, cost = to_yuan(numbers["revenue"], unit), to_yuan(numbers["cost"], unit)
    printed = numbers["margin"]
    tolerance = Decimal(5).scaleb(min(0, printed.as_tuple().exponent) - 1) + MARGIN_SLACK
    if abs((revenue - cost) / revenue * 100 - printed) > tolerance:
        return None
    change = -abs(numbers["margin_change"]) if m["direction"] in _FALLING else numbers["margin_change"]
    return Segment(m["name"].replace(" ", ""), revenue, cost, numbers["margin"], numbers["revenue_change"],
                   numbers["cost_change"], change, page, m[0], dimension)
