"""Routing: small pure functions from state to the next node's name."""

from __future__ import annotations

from graph.state import AgentState

# Intent → tool node. Intents not listed go straight to the answer node.
TOOL_FOR_INTENT = {
    "基本信息": "sql_lookup",
    "员工信息": "sql_lookup",
    "财务报表": "sql_lookup",
    "统计题": "statistic",
    "计算题": "formula",
    "开放性问题": "retrieve",
    "金融概念": "glossary",
}

# A question about one of the company's own segments (「生物制药业务的毛利率」) goes here, whatever its intent.
SEGMENT_NODE = "segment_lookup"

# Intents that are about one company's report: without a company there is nothing to look up.
NEEDS_COMPANY = {"基本信息", "员工信息", "财务报表", "计算题", "开放性问题"}


def route_after_understand(state: AgentState) -> str:
    u = state.get("understanding") or {}
    intent = state.get("intent") or u.get("intent")
    if not (state.get("question") or "").strip():
        return "answer"
    if state.get("parts"):
        # With an answer endpoint the model plans the parts with tools; otherwise split deterministically.
        return "agent" if state.get("mode") == "llm" else "compound"
    if u.get("problems") or (intent in NEEDS_COMPANY and not u.get("companies")):
        return "answer"  # the answer node says 「未查询到…」 naming what is missing
    if u.get("segment"):
        return SEGMENT_NODE
    return TOOL_FOR_INTENT.get(intent, "answer")


def route_after_agent(state: AgentState) -> str:
    messages = state.get("llm_messages") or []
    if messages and getattr(messages[-1], "tool_calls", None):
        return "tools"
    if state.get("answer"):
        return "__end__"
    return "compound"  # the model failed or was not trusted: the deterministic split answers
