"""The agent behind the API: a module with ``ask`` / ``ask_stream`` (``agent.service`` by default),
imported when first called.

Resolving lazily keeps ``create_app`` importable (health checks, the web page, tests with injected fakes)
even where the agent's heavier dependencies are missing; the API answers 503 until it can import them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from serving.errors import ApiError


def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ApiError(503, "agent_unavailable", "the question-answering agent is not available on this server") from exc


def resolve(name: str = "agent.service") -> tuple[Callable[..., dict[str, Any]], Callable[..., Iterator[dict[str, Any]]]]:
    """(ask, ask_stream) that import ``name`` on first use."""

    def ask(question: str, *, thread_id: str | None = None, settings=None) -> dict[str, Any]:
        return _module(name).ask(question, thread_id=thread_id, settings=settings)

    def ask_stream(question: str, *, thread_id: str | None = None, settings=None) -> Iterator[dict[str, Any]]:
        module = _module(name)
        stream = getattr(module, "ask_stream", None)
        if stream is None:  # an agent without streaming still answers, in one final event
            yield {"type": "final", "result": module.ask(question, thread_id=thread_id, settings=settings)}
            return
        yield from stream(question, thread_id=thread_id, settings=settings)

    return ask, ask_stream
