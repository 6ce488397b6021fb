"""The ``ask`` facade used by the CLI, the API and the evaluator.

It owns what sits around one graph run: opening the store, ingesting the bundled sample on first use,
the persistent checkpointer that keeps threads across processes, timing, and shaping the graph's
output into the ``ask --json`` object.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.configuration import Settings, get_settings
from agent.store import Store, store_for

log = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "samples"

_lock = threading.Lock()
_graphs: dict[str, Any] = {}
_homes_with_reports: set[str] = set()


def sample_reports() -> list[Path]:
    return sorted(SAMPLE_DIR.glob("*.pdf"))


def ensure_sample(settings: Settings, store: Store, notify: Callable[[str], None] | None = None) -> None:
    """On an empty home, ingest the bundled sample report so the first question has data."""
    if store.url in _homes_with_reports:
        return
    if store.has_reports():
        _homes_with_reports.add(store.url)  # checked once per process: this runs on every question
        return
    from ingestion.pipeline import ingest_file

    for pdf in sample_reports():
        if notify:
            notify(f"首次使用：正在导入示例年报 {pdf.name} …")
        result = ingest_file(store, pdf, settings=settings)
        if notify:
            notify(f"导入完成：{result.status}，{result.pages or 0} 页")


def compiled_graph(settings: Settings):
    """The graph compiled with this home's persistent checkpointer (one per process and home)."""
    key = settings.postgres_checkpoint_conninfo or str(settings.checkpoint_path)
    with _lock:
        if key not in _graphs:
            from graph.graph import builder

            _graphs[key] = builder.compile(checkpointer=_checkpointer(settings))
        return _graphs[key]


def _checkpointer(settings: Settings):
    conninfo = settings.postgres_checkpoint_conninfo
    if conninfo:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        # A pool: the API answers several threads at once. The settings are the ones PostgresSaver needs.
        pool = ConnectionPool(
            conninfo, max_size=8, open=True,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        saver = PostgresSaver(pool)
        saver.setup()
        return saver
    from langgraph.checkpoint.sqlite import SqliteSaver

    settings.ensure_home()
    conn = sqlite3.connect(settings.checkpoint_path, check_same_thread=False)
    return SqliteSaver(conn)


def _run_config(settings: Settings, store: Store, thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "settings": settings, "store": store}}


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


def ask_stream(
    question: str,
    *,
    thread_id: str | None = None,
    settings: Settings | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``{"type": "step", "node"}``, ``{"type": "token", "text"}`` and one ``{"type": "final", "result"}``."""
    settings = settings or get_settings()
    started = time.perf_counter()
    store = store_for(settings)
    ensure_sample(settings, store, notify)
    thread_id = thread_id or uuid.uuid4().hex
    graph = compiled_graph(settings)
    config = _run_config(settings, store, thread_id)
    state: dict[str, Any] = {}
    # durability="exit": one checkpoint write per turn instead of one per step; a turn cut short is
    # simply asked again, so the intermediate checkpoints buy nothing.
    stream = graph.stream({"question": question or ""}, config, stream_mode=["updates", "custom"], durability="exit")
    for mode, payload in stream:
        if mode == "custom":
            yield payload
            continue
        for node, update in payload.items():
            yield {"type": "step", "node": node}
            state.update(update or {})
    result = to_ask_json(state, settings)
    result["thread_id"] = thread_id
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    yield {"type": "final", "result": result}


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
