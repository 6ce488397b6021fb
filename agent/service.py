"""The ``ask`` facade used by the CLI, the API and the evaluator.

It owns what sits around one graph run: opening the store, ingesting the bundled sample on first use,
the persistent checkpointer that keeps threads across processes, timing, and shaping the graph's
output into the ``ask --json`` object.

``ask_astream`` is the primitive: the graph runs on the caller's event loop (the API's). ``ask_stream``
and ``ask`` serve blocking callers through :mod:`agent.runner`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from agent import checkpoints, runner
from graph import llm
from graph.graph import builder
from graph.single import run_single
from ingestion.sample import ensure_sample, has_sample_checked
from knowledge.configuration import LLMSettings, Settings, get_settings
from knowledge.store import Store, store_for

log = logging.getLogger(__name__)

# Per event loop: a checkpointer's connection belongs to the loop that opened it. Loop → (graphs by
# checkpoint location, the lock that makes concurrent first questions compile only once).
_graphs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[dict[str, Any], asyncio.Lock]] = \
    weakref.WeakKeyDictionary()


async def compiled_graph(settings: Settings):
    """The graph compiled with this home's persistent checkpointer (one per event loop and home)."""
    loop = asyncio.get_running_loop()
    if loop not in _graphs:
        _graphs[loop] = ({}, asyncio.Lock())
    graphs, lock = _graphs[loop]
    key = settings.postgres_checkpoint_conninfo or str(settings.checkpoint_path)
    if key not in graphs:
        async with lock:
            if key not in graphs:
                graphs[key] = builder.compile(checkpointer=await _checkpointer(settings))
    return graphs[key]


async def _checkpointer(settings: Settings):
    if settings.postgres_checkpoint_conninfo:
        return await checkpoints.postgres_saver(settings.postgres_checkpoint_conninfo)
    return checkpoints.sqlite_saver(settings)


# A figure, a ratio and a concept: they touch the company index, the wide table, the formula chain,
# the glossary and the answer templates.
WARM_UP_QUESTIONS = ("四方科技2019年的货币资金是多少元？", "四方科技2019年的毛利率是多少？", "什么是毛利率？")


async def warm_up(settings: Settings | None = None) -> None:
    """Build what the first question would otherwise build while a user waits: the sample report, the
    company index, the data files, the compiled graph with its checkpointer (the API calls this at
    startup)."""
    settings = settings or get_settings()
    store = store_for(settings)
    await asyncio.to_thread(ensure_sample, settings, store)
    await compiled_graph(settings)
    # One question on the deterministic path, with no thread and no model: it loads the data files
    # and indexes that the nodes load lazily.
    offline = settings.model_copy(update={"llm": LLMSettings()})
    config = {"configurable": {"settings": offline, "store": store}}
    for question in WARM_UP_QUESTIONS:
        await run_single(question, None, config)


async def shut_down() -> None:
    """Close what this loop opened: the LLM clients' connections (the API calls this at shutdown)."""
    await llm.aclose_clients()


def _run_config(settings: Settings, store: Store, thread_id: str) -> dict[str, Any]:
    # tools_inline: the short deterministic tools run on this loop (see graph.nodes).
    return {"configurable": {"thread_id": thread_id, "settings": settings, "store": store, "tools_inline": True}}


async def ask_astream(
    question: str,
    *,
    thread_id: str | None = None,
    settings: Settings | None = None,
    notify: Callable[[str], None] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield ``{"type": "step", "node"}``, ``{"type": "token", "text"}`` (and ``{"type": "reset"}`` when
    streamed sentences are withdrawn), then one ``{"type": "final", "result"}``."""
    settings = settings or get_settings()
    started = time.perf_counter()
    # The turn's deadline starts with the turn, the user's wait: every LLM call of the turn (this
    # generator's context, which the graph's tasks and worker threads inherit) shares one budget, and
    # once it is spent the nodes answer on their deterministic path at once.
    with llm.turn_budget(settings.llm):
        store = store_for(settings)
        if not has_sample_checked(store):  # the first question of a process: may ingest, off the loop
            await asyncio.to_thread(ensure_sample, settings, store, notify)
        thread_id = thread_id or uuid.uuid4().hex
        turn_id = uuid.uuid4().hex
        llm.current_turn.set(turn_id)  # this generator's context: the graph's tasks inherit it
        graph = await compiled_graph(settings)
        config = _run_config(settings, store, thread_id)
        state: dict[str, Any] = {}
        # durability="exit": one checkpoint write per turn instead of one per step; a turn cut short is
        # simply asked again, so the intermediate checkpoints buy nothing.
        stream = graph.astream({"question": question or ""}, config, stream_mode=["updates", "custom"],
                               durability="exit")
        async for mode, payload in stream:
            if mode == "custom":
                yield payload
                continue
            for node, update in payload.items():
                yield {"type": "step", "node": node}
                state.update(update or {})
    result = to_ask_json(state, settings)
    result["thread_id"] = thread_id
    result["turn_id"] = turn_id
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    yield {"type": "final", "result": result}


def ask_stream(
    question: str,
    *,
    thread_id: str | None = None,
    settings: Settings | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """:func:`ask_astream` for blocking callers (the CLI's chat streams its tokens from here)."""
    return runner.iterate(lambda: ask_astream(question, thread_id=thread_id, settings=settings, notify=notify))


def ask(
    question: str,
    *,
    thread_id: str | None = None,
    settings: Settings | None = None,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Answer one question (one turn of a thread) and return the ``ask --json`` object."""
    final: dict[str, Any] = {}
    for event in ask_stream(question, thread_id=thread_id, settings=settings, notify=notify):
        if event["type"] == "final":
            final = event["result"]
    return final


def to_ask_json(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    u = state.get("understanding") or {}
    result = state.get("result") or {}
    companies = u.get("companies") or []
    company = companies[0] if companies else None
    return {
        "answer": state.get("answer", ""),
        "intent": state.get("intent") or u.get("intent"),
        "company": (
            {"code": company["code"], "name": company["name"], "short_name": company.get("short_name")}
            if company
            else None
        ),
        "companies": [
            {"code": c["code"], "name": c["name"], "short_name": c.get("short_name")} for c in companies
        ],
        "years": u.get("years") or [],
        "fields": u.get("fields") or [],
        "sql": result.get("sql"),
        "values": result.get("values") or [],
        "formula": result.get("formula"),
        "citations": result.get("citations") or [],
        "missing": result.get("missing") or [],
        "mode": state.get("mode") or settings.mode,
        "fallback_reason": state.get("fallback_reason"),
    }
