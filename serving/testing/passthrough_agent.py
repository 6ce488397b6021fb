"""The thinnest agent that still talks to the LLMs the way the real one does, for load tests.

One non-streamed call to the intent adapter, then the answer model streamed token by token, through the
same ``graph.llm`` clients, on the API's event loop as the real agent runs. Serving with
``NIANBAO_SERVE_AGENT=serving.testing.passthrough_agent`` measures what the HTTP layer and the LLM clients cost,
apart from the graph's own work.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from graph import llm
from knowledge.configuration import Settings, get_settings


async def ask_astream(question: str, *, thread_id: str | None = None,
                      settings: Settings | None = None) -> AsyncIterator[dict[str, Any]]:
    settings = settings or get_settings()
    start = time.perf_counter()
    yield {"type": "step", "node": "intent"}
    intent = await llm.acomplete(settings, "intent", question)
    yield {"type": "step", "node": "answer"}
    pieces = []
    async for piece in llm.astream(settings, "answer", question):
        pieces.append(piece)
        yield {"type": "token", "text": piece}
    result = {
        "answer": "".join(pieces), "intent": intent[:40], "company": None, "years": [], "fields": [], "sql": None,
        "values": [], "formula": None, "citations": [], "mode": settings.mode, "thread_id": thread_id,
        "latency_ms": round((time.perf_counter() - start) * 1000, 1),
    }
    yield {"type": "final", "result": result}


async def shut_down() -> None:
    await llm.aclose_clients()
