"""One question on the deterministic path as plain calls: the graph's own nodes and routing, without
the LangGraph runtime or a checkpointer — what the evaluation's ``--direct`` mode and the tool tests use.
"""

from __future__ import annotations

import time
from typing import Any

from agent import runner
from agent.service import to_ask_json
from graph.single import run_single


def ask_structured(question: str, *, store, settings, previous: dict | None = None) -> dict[str, Any]:
    """The ``ask --json`` object for ``question``, plus ``problems`` and ``context`` (the next turn's memory)."""
    start = time.perf_counter()
    state = runner.run(run_single(question, previous, {"configurable": {"settings": settings, "store": store}}))
    result = to_ask_json(state, settings)
    result["problems"] = (state.get("understanding") or {}).get("problems") or []
    result["context"] = state.get("context")
    result["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
    return result
