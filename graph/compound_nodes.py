"""Nodes for compound questions (a figure question joined to another part).

``compound`` answers each part on the single-question path (:mod:`graph.single`); ``agent`` lets a
tool-calling answer model plan the parts, every figure still coming from the tools, and on any
failure the deterministic split answers.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

from graph import llm, prompts
from graph.agent_tools import AGENT_TOOLS
from graph.nodes import emit, settings_of, understanding_of
from graph.single import run_single
from graph.state import AgentState
from graph.verify import unsupported_numbers
from tools.results import ToolResult


async def compound(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Answer each part on the single-question path; later parts inherit earlier parts' context."""
    context = state.get("context")
    answers, merged = [], ToolResult(kind="compound")
    for part in state["parts"]:
        sub = await run_single(part, context, config)
        context = sub.get("context") or context
        answers.append(sub["answer"])
        result = sub.get("result") or {}
        merged.values += result.get("values") or []
        merged.citations += result.get("citations") or []
        merged.missing += result.get("missing") or []
        merged.formula = merged.formula or result.get("formula")
        merged.sql = merged.sql or result.get("sql")
    text = "\n".join(answers)
    return {
        "answer": text,
        "result": merged.to_dict(),
        "context": context,
        "messages": [AIMessage(text)],
    }


async def agent(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Tool-calling answer model for compound questions; on any failure the deterministic split answers."""
    settings = settings_of(config)
    messages = list(state.get("llm_messages") or [])
    if not messages:
        messages = [SystemMessage(prompts.AGENT_SYSTEM), HumanMessage(state["question"])]
    try:
        # Within the call's deadline and the turn's: every round of planning spends the one turn budget.
        reply = await llm.ainvoke_with_tools(settings, "answer", AGENT_TOOLS, messages)
    except llm.LLMUnavailable as exc:  # no endpoint, or a deadline passed
        return {"fallback_reason": f"answer model (tools): {exc}", "llm_messages": []}
    except Exception as exc:  # endpoint down, timeout, model without tool support
        return {"fallback_reason": f"answer model (tools) failed: {type(exc).__name__}: {exc}", "llm_messages": []}
    new = messages[len(state.get("llm_messages") or []):] + [reply]
    if reply.tool_calls:
        return {"llm_messages": new}
    text = str(reply.content).strip()
    tool_outputs = [m.content for m in messages if isinstance(m, ToolMessage)]
    bad = unsupported_numbers(text, state["question"], *tool_outputs)
    if not text or bad or not tool_outputs:
        reason = "answer model (tools) answered without usable tool results" if not bad else (
            "answer model stated numbers the tools did not produce: " + ", ".join(sorted(map(str, bad))))
        return {"fallback_reason": reason, "llm_messages": []}
    emit(text)
    u = understanding_of(state)
    return {
        "answer": text,
        "llm_messages": new,
        "result": ToolResult(kind="compound", text=text).to_dict(),
        "context": u.to_context(),
        "messages": [AIMessage(text)],
    }
