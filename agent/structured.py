"""The deterministic structured path in one call: understand → tool → answer.

The graph's nodes call the same pieces one by one; this function is what the evaluation and the
embedded ``ask`` use when no graph is wanted, and the one place that routes an understanding to a tool.
"""

from __future__ import annotations

import time
from typing import Any

from agent.answers import render
from agent.intent import LOOKUP_INTENTS
from agent.understanding import Understanding, understand
from tools.formula import answer_formula
from tools.results import ToolResult
from tools.sql import answer_lookup, answer_statistic

STRUCTURED_INTENTS = LOOKUP_INTENTS + ("计算题", "统计题")
# Problems that make any lookup meaningless: answer with a refusal naming them.
BLOCKING = ("公司名称有歧义", "未识别到公司", "未识别到年份", "未识别到要查询的字段")


def route(store, u: Understanding, settings) -> ToolResult:
    """The tool for the intent, as the graph routes it (graph/routing.py); a refusal naming the
    problem when one blocks the lookup. Open and concept questions are not answered on this path."""
    if u.intent not in STRUCTURED_INTENTS:
        return ToolResult(kind="refusal")
    if any(p.startswith(BLOCKING) for p in u.problems):
        return ToolResult(kind="refusal")
    if u.intent == "统计题":
        return answer_statistic(store, u, settings)
    if u.intent == "计算题":
        return answer_formula(store, u, settings)
    return answer_lookup(store, u, settings)


def ask_structured(question: str, *, store, settings, previous: dict | None = None) -> dict[str, Any]:
    """The ``ask --json`` shape for the deterministic path (answer, intent, company, years, fields, sql,
    values, formula, citations, mode, latency_ms) plus ``context`` for the next turn."""
    start = time.perf_counter()
    u = understand(question, store, previous=previous, settings=settings)
    result = route(store, u, settings)
    answer = render(u, result)
    company = u.companies[0] if u.companies else None
    return {
        "answer": answer,
        "intent": u.intent,
        "company": {"code": company.code, "name": company.name, "short_name": company.short_name} if company else None,
        "companies": [{"code": c.code, "name": c.name, "short_name": c.short_name} for c in u.companies],
        "years": u.years,
        "fields": u.fields,
        "sql": result.sql,
        "values": [{k: (str(v) if k == "value" and v is not None and not isinstance(v, (int, str)) else v)
                    for k, v in val.items()} for val in result.values],
        "formula": result.formula,
        "citations": result.citations,
        "mode": "embedded",
        "refused": result.kind == "refusal",
        "problems": u.problems,
        "context": u.to_context(),
        "latency_ms": round((time.perf_counter() - start) * 1000, 2),
    }
