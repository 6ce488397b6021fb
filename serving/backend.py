"""The agent behind the API, as one async function: ``ask_astream(question, *, thread_id, settings)``
yielding the agent's events (``step``, ``token``, ``reset``, then one ``final``).

An agent module with a native ``ask_astream`` (``agent.service``) runs on the API's event loop. One with
only a blocking ``ask_stream`` (or ``ask``) runs in a worker thread, bridged to the loop. The module is
imported lazily, which keeps ``create_app`` importable (health checks, the web page, tests with injected
fakes) even where the agent's heavier dependencies are missing; the API answers 503 until it can import
them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any

from serving.errors import ApiError
from serving.streaming import coalesce, iterate_in_thread

AskAStream = Callable[..., AsyncIterator[dict[str, Any]]]
AskStream = Callable[..., Iterator[dict[str, Any]]]


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ApiError(503, "agent_unavailable", "the question-answering agent is not available on this server") from exc


def from_blocking(ask_stream: AskStream, executor: Executor) -> AskAStream:
    """A blocking event generator as an async one: it runs in ``executor``, its events reach the loop
    in batches (see :func:`serving.streaming.iterate_in_thread`)."""

    async def ask_astream(question: str, *, thread_id: str | None = None, settings=None):
        make = lambda: ask_stream(question, thread_id=thread_id, settings=settings)  # noqa: E731
        async for batch in iterate_in_thread(make, executor):
            for event in coalesce(batch):  # the tokens that piled up meanwhile, in one event
                yield event

    return ask_astream


def resolve(name: str, executor: Executor) -> AskAStream:
    """``ask_astream`` of the module ``name``, imported on first use."""

    async def ask_astream(question: str, *, thread_id: str | None = None, settings=None):
        module = _module(name)
        native = getattr(module, "ask_astream", None)
        if native is not None:
            stream = native(question, thread_id=thread_id, settings=settings)
        else:
            stream = from_blocking(_blocking_stream(module), executor)(question, thread_id=thread_id, settings=settings)
        async for event in stream:
            yield event

    return ask_astream


async def warm_up(name: str, settings) -> bool:
    """Call the agent module's ``warm_up(settings)`` if it has one; False when the module is missing."""
    try:
        module = _module(name)
    except ApiError:
        return False
    warm = getattr(module, "warm_up", None)
    if warm is not None:
        await warm(settings)
    return True


async def shut_down(name: str) -> None:
    """Call the agent module's ``shut_down()`` if it has one (and was imported)."""
    module = sys.modules.get(name)
    close = getattr(module, "shut_down", None)
    if close is not None:
        await close()


def _blocking_stream(module) -> AskStream:
    stream = getattr(module, "ask_stream", None)
    if stream is not None:
        return stream

    def answer_at_once(question: str, *, thread_id: str | None = None, settings=None):
        # An agent without streaming still answers, in one final event.
        yield {"type": "final", "result": module.ask(question, thread_id=thread_id, settings=settings)}

    return answer_at_once
