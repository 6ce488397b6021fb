"""The OpenAI chat-completions shapes for the ``nianbao`` model: request parsing and response objects."""

from __future__ import annotations

import time
import uuid
from typing import Any

from serving.errors import ApiError


def question_from_messages(messages: Any) -> str:
    """The last user message's text (string content or text parts)."""
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "invalid_messages", "'messages' must be a non-empty list of {role, content}")
    for message in reversed(messages):
        if not isinstance(message, dict):
            raise ApiError(400, "invalid_messages", "each message must be an object with 'role' and 'content'")
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if not isinstance(content, str):
            raise ApiError(400, "invalid_messages", "a user message's content must be text")
        return content
    raise ApiError(400, "invalid_messages", "'messages' has no user message to answer")


class Completion:
    """Builds the completion object, or the chunks of a streamed one, sharing one id."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def full(self, result: dict[str, Any]) -> dict[str, Any]:
        answer = str(result.get("answer") or "")
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            # Everything the agent knows (SQL, citations, values) for clients that look; others ignore it.
            "nianbao": result,
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
