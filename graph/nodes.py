"""Graph nodes: async functions from state (and the run's config) to a partial state update.

Tool nodes call the deterministic tools in ``tools/``; the answer node renders the house-style
template, and — when an answer endpoint is configured — lets the answer model phrase it, keeping the
template whenever the model fails or states a number the tools did not produce.

They are async so that a server runs every conversation on one event loop, with the LLM calls awaited.
Tools that may block for long — retrieval (index builds, dense models, HyDE) and statistics (the
NL2SQL adapter's blocking client) — run in a worker thread. The short deterministic ones (entity
linking, an indexed SQL lookup, the formula chain, the glossary) take a few milliseconds; see
:func:`_short_tool` for where they run.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from agent import llm
from agent.configuration import Settings, settings_from_config
from agent.store import Store, store_for
from graph import prompts
from graph.compound import split_compound
from graph.state import AgentState
from graph.verify import supported_numbers, unsupported_numbers
from tools.results import ToolResult

log = logging.getLogger(__name__)

# Where a streamed answer may be released: figures never span these.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")

# A question splits into parts only when its first part asks for figures; an open question's
# 「…，并结合…分析」 stays whole.
COMPOUND_HEADS = {"基本信息", "员工信息", "财务报表", "计算题", "统计题"}


def _settings(config: RunnableConfig | None) -> Settings:
    return settings_from_config(config)


async def _store(config: RunnableConfig | None) -> Store:
    configurable = (config or {}).get("configurable", {})
    if configurable.get("store") is not None:
        return configurable["store"]
    # Run by a LangGraph server (Studio, `langgraph dev`): the home's store, sample included. Off the
    # loop: the first use creates the home and ingests a PDF.
    return await asyncio.to_thread(_home_store, _settings(config))


def _home_store(settings: Settings) -> Store:
    from agent.service import ensure_sample

    store = store_for(settings)
    ensure_sample(settings, store)
    return store


async def _short_tool(config: RunnableConfig | None, fn, *args, **kwargs):
    """Run a short deterministic tool inline when the run's config says ``tools_inline`` (``agent.service``
    does: under load a thread hop costs more than the tool, since the worker and the loop then queue for
    the interpreter lock), else in a worker thread: a LangGraph server (``langgraph dev``) forbids even
    short blocking calls (SQLite, reading a data file) on its loop."""
    if (config or {}).get("configurable", {}).get("tools_inline"):
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


def _understanding(state: AgentState):
    from agent.understanding import Understanding

    return Understanding.from_context(state["understanding"])


def _question(state: AgentState) -> str:
    """This turn's question: a chat client (Studio) sends it as the newest, unanswered human
    message; the CLI and the API send ``question``."""
    messages = state.get("messages") or []
    if messages and isinstance(messages[-1], HumanMessage):
        return str(messages[-1].content)
    return state.get("question") or ""


# Nodes -----------------------------------------------------------------------------------------
async def understand(state: AgentState, config: RunnableConfig, *, split: bool = True) -> dict[str, Any]:
    """Intent, companies, years, fields and formula, with follow-ups resolved against the thread.

    A compound question (a figure question joined to another part) is split into ``parts``. With an
    adapters endpoint, the intent adapter's label overrides the rules.
    """
    from agent.intent import classify_llm
    from agent.understanding import understand as understand_text

    question = _question(state).strip()
    settings = _settings(config)
    if not question:
        # Nothing to resolve, not even against the thread's context.
        from agent.understanding import Understanding

        empty = Understanding(question="", intent="", problems=["问题为空，请输入要查询的问题"])
        return {"question": "", "parts": [], "understanding": empty.to_context(), "intent": empty.intent,
                "mode": settings.mode, "fallback_reason": None, "result": {}, "answer": "", "llm_messages": []}
    store = await _store(config)

    async def run_understanding(text: str):
        label = await classify_llm(settings, text) if settings.llm.enabled else None
        return await _short_tool(config, understand_text, text, store, previous=state.get("context"), llm_intent=label)

    parts = split_compound(question) if split else [question]
    u = await run_understanding(parts[0] if len(parts) > 1 else question)
    if len(parts) > 1 and u.intent in COMPOUND_HEADS:
        u.question = question
    else:
        parts = []
        if u.question != question:
            u = await run_understanding(question)
    update: dict[str, Any] = {
        "question": question,
        "parts": parts,
        "understanding": u.to_context(),
        "intent": u.intent,
        "mode": settings.mode,
        "fallback_reason": getattr(u, "fallback_reason", None),
        "result": {},
        "answer": "",
        "llm_messages": [],
    }
    if question and split:
        update["messages"] = [HumanMessage(question)]
    return update


async def compound(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Answer each part on the single-question path; later parts inherit earlier parts' context."""
    from graph.single import run_single

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
    from graph.agent_tools import AGENT_TOOLS

    settings = _settings(config)
    model = llm.chat_model(settings, "answer")
    messages = list(state.get("llm_messages") or [])
    if not messages:
        messages = [SystemMessage(prompts.AGENT_SYSTEM), HumanMessage(state["question"])]
    try:
        reply = await model.bind_tools(AGENT_TOOLS).ainvoke(messages)
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
    _emit(text)
    u = _understanding(state)
    return {
        "answer": text,
        "llm_messages": new,
        "result": ToolResult(kind="compound", text=text).to_dict(),
        "context": u.to_context(),
        "messages": [AIMessage(text)],
    }


async def sql_lookup(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    from tools.sql import answer_lookup

    result = await _short_tool(config, answer_lookup, await _store(config), _understanding(state), _settings(config))
    return {"result": result.to_dict()}


async def statistic(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    from tools.sql import answer_statistic

    # A question the templates don't cover waits on the NL2SQL adapter here (blocking client).
    result = await asyncio.to_thread(answer_statistic, await _store(config), _understanding(state), _settings(config))
    return {"result": result.to_dict()}


async def formula(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    from tools.formula import answer_formula

    result = await _short_tool(config, answer_formula, await _store(config), _understanding(state), _settings(config))
    return {"result": result.to_dict()}


async def retrieve(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    from tools.retrieval import answer_open_question

    # Index builds, dense models and the HyDE call (blocking client) run here.
    result = await asyncio.to_thread(answer_open_question, _settings(config), await _store(config), _understanding(state))
    return {"result": result.to_dict()}


async def glossary(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    from tools.glossary import answer_concept

    result = await _short_tool(config, answer_concept, _understanding(state).question)
    return {"result": result.to_dict()}


async def answer(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Render the answer; with an answer endpoint, let the model phrase it under verification."""
    from agent.answers import render

    settings = _settings(config)
    u = _understanding(state)
    result = ToolResult(**state["result"]) if state.get("result") else ToolResult(kind="refusal")
    draft = render(u, result)
    final, reason = draft, state.get("fallback_reason")
    if settings.llm.enabled and result.kind != "refusal" and not u.problems:
        final, llm_reason = await _llm_answer(settings, u.question, result, draft)
        reason = llm_reason or reason
    else:
        _emit(final)
    update = {"answer": final, "fallback_reason": reason, "messages": [AIMessage(final)]}
    if u.question:  # an empty question leaves the thread's context as it was
        update["context"] = u.to_context()
    return update


# Helpers ---------------------------------------------------------------------------------------
def _emit(text: str) -> None:
    """Send answer text to whoever streams this run (CLI chat, SSE); a no-op otherwise."""
    _emit_event({"type": "token", "text": text})


def _emit_event(event: dict[str, Any]) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # not inside a streaming run
        return
    writer(event)


async def _llm_answer(settings: Settings, question: str, result: ToolResult, draft: str) -> tuple[str, str | None]:
    """(answer, fallback reason). The model's answer streams sentence by sentence, each sentence
    released only once every figure in it is found in the tool results (so a number the tools did
    not produce is never shown); on a failure or an unsupported figure the template answers."""
    if result.kind == "passages":
        messages = prompts.grounded_answer(question, result.passages)
    elif result.kind == "glossary":
        messages = prompts.concept_answer(question, result.values)
    else:
        messages = prompts.structured_answer(question, result.to_dict(), draft)
    supported = supported_numbers(result.to_dict(), question, draft)
    shown: list[str] = []
    pending = ""

    def release(sentence: str) -> str | None:
        bad = unsupported_numbers(sentence, supported=supported)
        if bad:
            return "answer model stated numbers the tools did not produce: " + ", ".join(sorted(map(str, bad)))
        shown.append(sentence)
        _emit(sentence)
        return None

    try:
        async for piece in llm.astream(settings, "answer", messages):
            pending += piece
            while (end := _SENTENCE_END.search(pending)) is not None:
                sentence, pending = pending[: end.end()], pending[end.end():]
                if (reason := release(sentence)) is not None:
                    return _fall_back(draft, shown, reason)
        if pending.strip() and (reason := release(pending)) is not None:
            return _fall_back(draft, shown, reason)
    except llm.LLMUnavailable as exc:
        return _fall_back(draft, shown, str(exc))
    text = "".join(shown).strip()
    if not text:
        return _fall_back(draft, shown, "answer model returned nothing")
    return text, None


def _fall_back(draft: str, shown: list[str], reason: str) -> tuple[str, str]:
    if shown:  # tell streaming clients to drop the sentences they already showed
        _emit_event({"type": "reset", "reason": reason})
    _emit(draft)
    return draft, reason
