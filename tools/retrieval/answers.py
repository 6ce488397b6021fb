"""What the graph's ``retrieve`` node calls: an open question about one report, answered from its text.

``answer_open_question`` returns a ``ToolResult`` of kind ``passages``: the top passages (for the
grounded LLM prompt), the embedded-mode extractive answer in ``text``, and the citations (page, text)
of the passages that answer used.
"""

from __future__ import annotations

from tools.results import ToolResult
from tools.retrieval.extractive import open_answer
from tools.retrieval.hybrid import company_names, search


def answer_open_question(settings, store, understanding) -> ToolResult:
    u = understanding
    if not u.companies:
        return ToolResult(kind="refusal", missing=["问题所指的公司"])
    company = u.companies[0]
    year = u.years[0] if u.years else None
    passages = search(settings, store, u.question, company_code=company.code, year=year, k=settings.retrieval.top_k)
    label = f"{company.short_name or company.name}{f'{year}年' if year else ''}年报"
    if not passages:
        return ToolResult(kind="refusal", missing=[label])
    answer = open_answer(u.question, passages, company_names=company_names(store, company.code))
    return ToolResult(
        kind="passages",
        passages=[{"page": p.page, "text": p.text, "section": p.section, "score": p.score} for p in passages],
        citations=answer.citations,
        text=answer.text or None,
    )
