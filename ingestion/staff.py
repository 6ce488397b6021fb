"""员工情况: headcount (在职员工的数量合计 → 职工总数), 专业构成 and 教育程度 rows, 研发人员 when listed."""

from __future__ import annotations

from ingestion.keyvalue import collect, resolver_for
from ingestion.tables import PageTable
from knowledge.store import Value

# 研发人员 listed under 专业构成 fills 研发人员数量 (the R&D table, read first, wins when it has one).
STAFF_RD_FIELDS = ("研发人员数量",)


def extract_staff(tables: dict[int, list[PageTable]], page_texts: dict[int, str]) -> list[Value]:
    resolve_any = resolver_for(("staff", "rd"))

    def resolve(label: str):
        f = resolve_any(label)
        return f if f is not None and (f.statement == "staff" or f.name in STAFF_RD_FIELDS) else None

    return collect(tables, page_texts, resolve).list()
