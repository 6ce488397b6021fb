"""Bridge the agent's blocking event generator to the event loop, and format server-sent events.

The generator runs in a worker thread and hands events to the loop (one ``call_soon_threadsafe`` wake-up
per batch, not per event); the loop only awaits, so a slow LLM never blocks other requests. When the client goes away the
producer is told to stop at the next event and the generator is closed in its own thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any

_DONE = object()


async def iterate_in_thread(make: Callable[[], Iterator[Any]], executor: Executor) -> AsyncIterator[list[Any]]:
    """Run ``make()`` in ``executor``; yield *batches* of its items (everything that arrived since the
    consumer last looked). Under load this coalesces tokens, so the loop, the socket and the client each
    handle one write per batch instead of one per token; when idle a batch is a single item."""
    loop = asyncio.get_running_loop()
    pending: list[Any] = []
    lock = threading.Lock()
    wake = asyncio.Event()
    state = {"scheduled": False, "error": None}
    stop = threading.Event()

    def push(item: Any) -> None:
        with lock:
            pending.append(item)
            if state["scheduled"]:
                return  # the loop has a wake-up coming; it will take this item too
            state["scheduled"] = True
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
            stop.set()

    def produce() -> None:
        generator = None
        try:
            generator = make()
            for item in generator:
                if stop.is_set():
                    break
                push(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which decides
            state["error"] = exc
        finally:
            push(_DONE)
            close = getattr(generator, "close", None)
            if close is not None:
                close()

    loop.run_in_executor(executor, produce)
    try:
        while True:
            await wake.wait()
            with lock:
                batch = pending[:]
                pending.clear()
                state["scheduled"] = False
                wake.clear()
            done = bool(batch) and batch[-1] is _DONE
            if done:
                batch.pop()
            if batch:
                yield batch
            if done:
                if state["error"] is not None:
                    raise state["error"]
                return
    finally:
        stop.set()


def coalesce(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge runs of token events into one (their texts joined); other events pass unchanged."""
    out: list[dict[str, Any]] = []
    for event in events:
        if out and event.get("type") == "token" and out[-1].get("type") == "token":
            out[-1] = {"type": "token", "text": out[-1]["text"] + event.get("text", "")}
        else:
            out.append(event)
    return out


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def sse_data(data: Any) -> str:
    """An unnamed event, as OpenAI streams chat completion chunks."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
    return f"data: {payload}\n\n"


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
