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

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from graph import llm, prompts, tool_calls
from graph.answers import render
from graph.compound import split_compound
from graph.state import AgentState
from graph.verify import supported_numbers, unsupported_numbers
from ingestion.sample import ensure_sample
from knowledge.configuration import Settings, settings_from_config
from knowledge.store import Store, store_for
from tools.results import ToolResult
from tools.sql import run_generated, strip_model_sql
from understanding.intent import parse_intent_label
from understanding.question import Understanding
from understanding.question import understand as understand_text

log = logging.getLogger(__name__)

# Where a streamed answer may be released: figures never span these.
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")

# A question splits into parts only when its first part asks for figures; an open question's
# 「…，并结合…分析」 stays whole.
COMPOUND_HEADS = {"基本信息", "员工信息", "财务报表", "计算题", "统计题"}


def settings_of(config: RunnableConfig | None) -> Settings:
    return settings_from_config(config)


async def _store(config: RunnableConfig | None) -> Store:
    configurable = (config or {}).get("configurable", {})
    if configurable.get("store") is not None:
        return configurable["store"]
    # Run by a LangGraph server (Studio, `langgraph dev`): the home's store, sample included. Off the
    # loop: the first use creates the home and ingests a PDF.
    return await asyncio.to_thread(_home_store, settings_of(config))


def _home_store(settings: Settings) -> Store:
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


def understanding_of(state: AgentState) -> Understanding:
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
    question = _question(state).strip()
    settings = settings_of(config)
    if not question:
        # Nothing to resolve, not even against the thread's context.
        empty = Understanding(question="", intent="", problems=["问题为空，请输入要查询的问题"])
        return {"question": "", "parts": [], "understanding": empty.to_context(), "intent": empty.intent,
                "mode": settings.mode, "fallback_reason": None, "result": {}, "answer": "", "llm_messages": []}
    store = await _store(config)
    intent_failures: list[str] = []

    async def run_understanding(text: str):
        label = None
        if settings.llm.enabled:
            label, failure = await _intent_label(settings, text)
            if failure:
                intent_failures.append(failure)
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
        "fallback_reason": intent_failures[-1] if intent_failures else None,
        "result": {},
        "answer": "",
        "llm_messages": [],
    }
    if question and split:
        update["messages"] = [HumanMessage(question)]
    return update


async def sql_lookup(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    result = await _short_tool(config, tool_calls.lookup, await _store(config), understanding_of(state),
                               settings_of(config))
    return {"result": result.to_dict()}


async def segment_lookup(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    result = await _short_tool(config, tool_calls.segment, await _store(config), understanding_of(state))
    return {"result": result.to_dict()}


async def statistic(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    settings, u, store = settings_of(config), understanding_of(state), await _store(config)
    if tool_calls.needs_generated_sql(u):
        result, failure = await _generated_sql(settings, store, u)
        update: dict[str, Any] = {"result": result.to_dict()}
        if failure:  # else the understanding's reason, if any, stands
            update["fallback_reason"] = failure
        return update
    result = await _short_tool(config, tool_calls.statistic, store, u, settings)
    return {"result": result.to_dict()}


async def formula(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    result = await _short_tool(config, tool_calls.formula, await _store(config), understanding_of(state),
                               settings_of(config))
    return {"result": result.to_dict()}


async def retrieve(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    # Deferred: retrieval loads numpy and BM25, which a lookup (and a cold `nianbao ask` of one) never needs.
    from tools.retrieval import answer_open_question

    settings, u = settings_of(config), understanding_of(state)
    if not u.companies:
        return {"result": ToolResult(kind="refusal", missing=["问题所指的公司"]).to_dict()}
    company = u.companies[0]
    expansion = await _hyde_passage(settings, u.question)
    # Index builds and dense models run here, off the loop.
    result = await asyncio.to_thread(
        answer_open_question, settings, await _store(config), u.question, company_code=company.code,
        year=u.years[0] if u.years else None, company_label=company.short_name or company.name, expansion=expansion)
    return {"result": result.to_dict()}


async def glossary(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    from tools.glossary import answer_concept  # deferred, as retrieval: its BM25 loads numpy

    result = await _short_tool(config, answer_concept, understanding_of(state).question)
    return {"result": result.to_dict()}


async def answer(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    """Render the answer; with an answer endpoint, let the model phrase it under verification."""
    settings = settings_of(config)
    u = understanding_of(state)
    result = ToolResult(**state["result"]) if state.get("result") else ToolResult(kind="refusal")
    draft = render(u, result)
    final, reason = draft, state.get("fallback_reason")
    if settings.llm.enabled and result.kind != "refusal" and not u.problems:
        final, llm_reason = await _llm_answer(settings, u.question, result, draft)
        reason = llm_reason or reason
    else:
        emit(final)
    update = {"answer": final, "fallback_reason": reason, "messages": [AIMessage(final)]}
    if u.question:  # an empty question leaves the thread's context as it was
        update["context"] = u.to_context()
    return update


# LLM calls of the tool nodes -------------------------------------------------------------------
async def _intent_label(settings: Settings, question: str) -> tuple[str | None, str | None]:
    """(the intent adapter's label, why there is none): no label (a failure, a reply that is not a
    label) leaves the rules to decide; only an endpoint failure (a deadline among them) is a reason."""
    try:
        raw = await llm.acomplete(settings, "intent", prompts.adapter_messages("intent", question))
    except llm.LLMUnavailable as exc:
        return None, str(exc)
    return parse_intent_label(raw), None


async def _generated_sql(settings: Settings, store: Store, u: Understanding) -> tuple[ToolResult, str | None]:
    """(what the templates don't cover, through the nl2sql adapter; why it fell back). Refused in embedded
    mode, and when the adapter fails (a deadline among the failures), the reason then given."""
    if not settings.llm.enabled:
        return ToolResult(kind="refusal", missing=["该统计问题暂不支持（未配置NL2SQL模型）"]), None
    entities = [(c.mention or c.short_name or c.name, c.code) for c in u.companies]
    user = prompts.nl2sql_user(u.question, list(u.fields), entities)
    try:
        raw = await llm.acomplete(settings, "nl2sql", prompts.adapter_messages("nl2sql", user))
    except llm.LLMUnavailable as exc:
        return ToolResult(kind="refusal", missing=[f"该统计问题暂不支持（{exc}）"]), str(exc)
    return await asyncio.to_thread(run_generated, store, strip_model_sql(raw), settings=settings), None


# HyDE uses the answer model: the adapters (intent, nl2sql, keywords) are trained for their own output
# formats, not free report prose.
HYDE_ROLE = "answer"


async def _hyde_passage(settings: Settings, question: str) -> str:
    """HyDE (Gao et al., 2022): a hypothetical report passage to search with, so retrieval matches the
    words a report would use. Only with an endpoint; any failure, its deadline passing among them, gives
    "" and retrieval goes on (an optimisation, so not a fallback reason)."""
    if not settings.llm.enabled:
        return ""
    try:
        text = await llm.acomplete(settings, HYDE_ROLE, [("system", prompts.HYDE_SYSTEM), ("human", question)])
    except Exception as exc:  # the endpoint is an optimisation here, never a dependency
        log.info("HyDE expansion skipped: %s", exc)
        return ""
    return (text or "").strip()


# Helpers ---------------------------------------------------------------------------------------
def emit(text: str) -> None:
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
        emit(sentence)
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
    emit(draft)
    return draft, reason
