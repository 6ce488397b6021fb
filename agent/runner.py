"""Run the async agent from blocking code (the CLI, the evaluator, tests).

The graph, its checkpointer and the LLM clients are async so that the API serves every conversation
on one event loop. Blocking callers share one more loop, in a daemon thread of their own: a checkpointer
connection or an HTTP connection pool belongs to the loop that opened it, so a fresh loop per question
would reopen them every time.
"""

from __future__ import annotations

import asyncio
import atexit
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from graph import llm

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _agent_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="nianbao-agent-loop", daemon=True).start()
            _loop = loop
            atexit.register(_close, loop)
        return _loop


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """At exit: close the connections the agent opened on the loop, then the loop."""
    try:
        asyncio.run_coroutine_threadsafe(llm.aclose_clients(), loop).result(timeout=5)
    except Exception:  # exiting anyway; a connection left open is closed by the OS
        pass
    loop.call_soon_threadsafe(loop.stop)


def _on_agent_loop() -> bool:
    try:
        return asyncio.get_running_loop() is _loop
    except RuntimeError:
        return False


def run(coro: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result, computed on the agent loop; blocks the calling thread."""
    if _on_agent_loop():
        coro.close()
        raise RuntimeError("run() called from the agent loop itself; await the coroutine instead")
    return asyncio.run_coroutine_threadsafe(coro, _agent_loop()).result()


def iterate(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """The items of ``make()``'s async iterator as a blocking iterator. One task on the agent loop runs
    the whole iteration (context variables set by the graph hold from item to item) and hands each item
    over as soon as it is produced, so a streamed token reaches the terminal at once. Closing the
    blocking iterator early cancels the task."""
    if _on_agent_loop():
        raise RuntimeError("iterate() called from the agent loop itself; use `async for` instead")
    items: queue.SimpleQueue = queue.SimpleQueue()

    async def pump() -> None:
        try:
            async for item in make():
                items.put((_ITEM, item))
        except BaseException as exc:  # handed to the blocking side, which raises it
            items.put((_ERROR, exc))
            raise
        items.put((_END, None))

    task = asyncio.run_coroutine_threadsafe(pump(), _agent_loop())
    try:
        while True:
            kind, value = items.get()
            if kind is _END:
                return
            if kind is _ERROR:
                raise value
            yield value
    finally:
        task.cancel()


_ITEM, _ERROR, _END = object(), object(), object()
