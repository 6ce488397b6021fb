"""HyDE (Gao et al., 2022): expand a question with a hypothetical report passage written by the LLM,
so retrieval matches the words a report would use. Only with an LLM endpoint; any failure gives ""
and retrieval goes on with the plain question.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# The answer model writes the passage: the adapters (intent, nl2sql, keywords) are trained for their
# own output formats, not free report prose.
ROLE = "answer"


def _generate(settings, question: str) -> str:
    """The one LLM call of retrieval (through ``agent.llm``, which raises on any failure)."""
    from agent import llm
    from graph.prompts import HYDE_SYSTEM

    return llm.complete(settings, ROLE, [("system", HYDE_SYSTEM), ("human", question)])


def hypothetical_passage(settings, question: str) -> str:
    if not settings.llm.enabled:
        return ""
    try:
        return (_generate(settings, question) or "").strip()
    except Exception as exc:  # the endpoint is an optimisation here, never a dependency
        log.info("HyDE expansion skipped: %s", exc)
        return ""
