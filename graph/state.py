"""The graph's typed state.

Everything in it is plain JSON-like data, so any checkpointer (SQLite, Postgres, the LangGraph
server's) can persist a thread without custom serialisers.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class InputState(TypedDict, total=False):
    """What a caller (CLI, API, LangGraph Studio) sends for one turn."""

    question: str
    messages: Annotated[list[AnyMessage], add_messages]


class AgentState(InputState, total=False):
    # Thread memory: the previous turn's understanding (company, years, fields, formula) — what
    # follow-ups like 「那2018年呢？」 resolve against. Survives turns through the checkpointer.
    context: dict[str, Any] | None
    # This turn.
    parts: list[str]  # the parts of a compound question; empty for a single question
    understanding: dict[str, Any]
    intent: str
    result: dict[str, Any]  # tools.results.ToolResult as a dict
    answer: str
    mode: str  # "embedded" | "llm"
    fallback_reason: str | None  # why an LLM node fell back to the deterministic path
    llm_messages: Annotated[list[AnyMessage], add_messages]  # tool-calling scratchpad (llm mode)


class OutputState(TypedDict, total=False):
    answer: str
    intent: str
    understanding: dict[str, Any]
    result: dict[str, Any]
    mode: str
    fallback_reason: str | None
