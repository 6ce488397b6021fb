"""An open question about one report, answered from its text.

    answer_open_question(settings, store, "简要介绍公司的社会责任工作情况", company_code="600201", year=2020)

returns a ``ToolResult`` of kind ``passages``: the top passages (for the grounded LLM prompt), the
embedded-mode extractive answer in ``text``, and the citations (page, text) of the passages that
answer used.
"""

from __future__ import annotations

from tools.results import ToolResult
from tools.retrieval.extractive import open_answer
from tools.retrieval.hybrid import company_names, search


def answer_open_question(settings, store, question: str, *, company_code: str | None, year: int | None = None,
                         company_label: str | None = None, expansion: str = "") -> ToolResult:
    if not company_code:
        return ToolResult(kind="refusal", missing=["问题所指的公司"])
    passages = search(settings, store, question, company_code=company_code, year=year, k=settings.retrieval.top_k,
                      expansion=expansion)
    if not passages:
        label = f"{company_label or company_code}{f'{year}年' if year else ''}年报"
        return ToolResult(kind="refusal", missing=[label])
    answer = open_answer(question, passages, company_names=company_names(store, company_code))
    return ToolResult(
        kind="passages",
        passages=[{"page": p.page, "text": p.text, "section": p.section, "score": p.score} for p in passages],
        citations=answer.citations,
        text=answer.text or None,
    )
