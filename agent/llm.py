"""OpenAI-compatible LLM clients, one per role.

vLLM serves the 7B base with LoRA adapters, each addressed by its own model name (``intent``,
``nl2sql``, ``keywords``), and the 32B answer model on its own endpoint. Every caller treats
:class:`LLMUnavailable` as "take the deterministic path" and records the reason in the graph state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache

from agent.configuration import LLMSettings, Settings

log = logging.getLogger(__name__)

ROLES = ("answer", "intent", "nl2sql", "keywords")


class LLMUnavailable(RuntimeError):
    """No endpoint for the role, or the endpoint failed; the message says which."""


def model_name(llm: LLMSettings, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown LLM role {role!r}")
    return getattr(llm, f"{role}_model")


@lru_cache(maxsize=32)
def _client(base_url: str, api_key: str, model: str, timeout_s: float, max_retries: int, temperature: float):
    from langchain_openai import ChatOpenAI

    # max_retries: the openai client retries connection errors and 5xx with exponential backoff.
    return ChatOpenAI(
        base_url=base_url,
        api_key=api_key,
        model=model,
        timeout=timeout_s,
        max_retries=max_retries,
        temperature=temperature,
    )


def chat_model(settings: Settings, role: str):
    """The langchain ChatOpenAI for a role, or None in embedded mode."""
    llm = settings.llm
    url = llm.url_for(role)
    if not url:
        return None
    return _client(url, llm.api_key, model_name(llm, role), llm.timeout_s, llm.max_retries, llm.temperature)


def _messages(prompt: str | Sequence) -> list:
    from langchain_core.messages import HumanMessage

    return [HumanMessage(prompt)] if isinstance(prompt, str) else list(prompt)


def complete(settings: Settings, role: str, prompt: str | Sequence) -> str:
    """One completion; raises LLMUnavailable on no endpoint or any failure."""
    model = chat_model(settings, role)
    if model is None:
        raise LLMUnavailable(f"no endpoint configured for {role}")
    try:
        return str(model.invoke(_messages(prompt)).content)
    except Exception as exc:  # network errors, timeouts, 5xx after retries, bad payloads
        log.warning("LLM %s failed: %s", role, exc)
        raise LLMUnavailable(f"{role} endpoint failed: {type(exc).__name__}: {exc}") from exc


def stream(settings: Settings, role: str, prompt: str | Sequence) -> Iterator[str]:
    """Stream text pieces; raises LLMUnavailable if the stream cannot start or breaks."""
    model = chat_model(settings, role)
    if model is None:
        raise LLMUnavailable(f"no endpoint configured for {role}")
    try:
        for chunk in model.stream(_messages(prompt)):
            if chunk.content:
                yield str(chunk.content)
    except Exception as exc:
        log.warning("LLM %s stream failed: %s", role, exc)
        raise LLMUnavailable(f"{role} endpoint failed: {type(exc).__name__}: {exc}") from exc
