"""员工情况: headcount (在职员工的数量合计 → 职工总数), 专业构成 and 教育程度 rows, 研发人员 when listed.

Banks describe their staff in a sentence instead ("本集团共有在职员工 41,011 人（含派遣人员），需承担退休费的
离职职工 79 人；其中，本行在职员工 40,617 人"): those counts fill what the tables did not give.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ingestion.keyvalue import Collector, TextReading, collect, collect_text, resolver_for, text_reading
from ingestion.numbers import parse_count
from ingestion.tables import PageTable
from knowledge.store import Value

# 研发人员 listed under 专业构成 fills 研发人员数量 (the R&D table, read first, wins when it has one).
STAFF_RD_FIELDS = ("研发人员数量",)
PROSE_COUNTS = (
    (re.compile(r"共有在职员工\s*([\d,]+)\s*人"), "职工总数"),
    (re.compile(r"(?:本行|母公司)在职员工\s*([\d,]+)\s*人"), "母公司在职员工的数量"),
    (re.compile(r"需承担(?:退休费|费用)的离(?:退休|职)职工\s*([\d,]+)\s*人"), "离退休职工人数"),
)


# 「专业构成为：业务人员 32,305 人，专业技术人员 6,389 人，…」: each category named in the dictionary.
_PROSE_COMPOSITION = re.compile(r"专业构成为[：:](.*?)[；;。]")
_PROSE_CATEGORY = re.compile(r"([\u4e00-\u9fff]{2,12}?)\s*([\d,]+)\s*人")
# 「92.11%具有本科及以上学历」
_PROSE_SHARE = ((re.compile(r"([\d.]+)\s*%\s*具有本科及以上学历"), "本科及以上学历占比"),)


def _prose_counts(page_texts: dict[int, str], found: Collector, resolve) -> None:
    for page, text in sorted(page_texts.items()):
        flat = "".join(line.strip() for line in text.splitlines())
        for pattern, name in PROSE_COUNTS:
            m = pattern.search(flat)
            count = parse_count(m[1]) if m else None
            if count is not None:
                found.add(Value(name, count, page=page, raw_label=m[0], raw_text=m[1]))
        if composition := _PROSE_COMPOSITION.search(flat):
            for m in _PROSE_CATEGORY.finditer(composition[1]):
                f, count = resolve(m[1].lstrip("，,")), parse_count(m[2])
                if f is not None and count is not None:
                    found.add(Value(f.name, count, page=page, raw_label=m[1], raw_text=m[0]))
        for pattern, name in _PROSE_SHARE:
            if m := pattern.search(flat):
                found.add(Value(name, Decimal(m[1]), page=page, raw_label=m[0], raw_text=m[1]))


def _staff_resolver():
    resolve_any = resolver_for(("staff", "rd"))

    def resolve(label: str):
        f = resolve_any(label)
        return f if f is not None and (f.statement == "staff" or f.name in STAFF_RD_FIELDS) else None

    return resolve


def extract_staff(tables: dict[int, list[PageTable]], page_texts: dict[int, str]) -> list[Value]:
    resolve = _staff_resolver()
    found = collect(tables, page_texts, resolve)
    _prose_counts(page_texts, found, resolve)
    return found.list()


def read_staff_text(page_texts: dict[int, str]) -> TextReading:
    """The table (and a bank's sentences) from the page text alone, with the doubts that send it to camelot
    (:func:`ingestion.keyvalue.text_reading`): 职工总数 must be read and equal 母公司 + 主要子公司."""
    resolve = _staff_resolver()
    found, unread = collect_text(page_texts, resolve)
    _prose_counts(page_texts, found, resolve)
    return text_reading("staff", found, unread, "职工总数")
