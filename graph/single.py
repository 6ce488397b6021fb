"""One question through the single-question path (understand → tool → answer) as plain calls.

Used for the parts of a compound question, on the deterministic path and as the tool a tool-calling
answer model calls; it runs the very node functions and routing the graph runs.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from graph import nodes
from graph.routing import route_after_understand


async def run_single(question: str, context: dict[str, Any] | None, config: RunnableConfig) -> dict[str, Any]:
    """The state after answering ``question`` with ``context`` as the previous turn's memory."""
    state: dict[str, Any] = {"question": question, "context": context}
    state.update(await nodes.understand(state, config, split=False))
    step = route_after_understand(state)
    if step != "answer":
        state.update(await getattr(nodes, step)(state, config))
    state.update(await nodes.answer(state, config))
    return state
