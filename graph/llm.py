"""OpenAI-compatible LLM clients, one per role.

vLLM serves the 7B base with LoRA adapters, each addressed by its own model name (``intent``,
``nl2sql``, ``keywords``), and the 32B answer model on its own endpoint. Every caller treats
:class:`LLMUnavailable` as "take the deterministic path" and records the reason in the graph state.

``acomplete`` / ``astream`` (aiohttp, on an event loop: the API's turns) and ``complete`` / ``stream``
(httpx, in blocking code) speak the chat-completions protocol directly. The openai SDK under
``langchain_openai`` spent about 25 ms of CPU per turn building typed request and chunk objects that are
read once and thrown away (profiled under the 128-conversation load test); here a chunk is one
``json.loads``. ``chat_model`` still gives the langchain ``ChatOpenAI`` where its features are used: tool
calling (``bind_tools``) in the agent node.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import httpx

from knowledge.configuration import LLMSettings, Settings

log = logging.getLogger(__name__)

ROLES = ("answer", "intent", "nl2sql", "keywords")

# Statuses worth another try (as the openai client retries them): overload, rate limits, server errors.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_ROLE_NAMES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
               "system": "system", "tool": "tool"}


# The turn being answered, sent to the model servers as the ``X-Nianbao-Turn`` header so that their
# logs (vLLM's, a proxy's, the stub's) join with ours. Set by ``agent.service`` per turn; asyncio tasks
# and worker threads inherit it.
current_turn: ContextVar[str | None] = ContextVar("nianbao_turn", default=None)
TURN_HEADER = "X-Nianbao-Turn"


def _turn_headers() -> dict[str, str] | None:
    turn = current_turn.get()
    return {TURN_HEADER: turn} if turn else None


class LLMUnavailable(RuntimeError):
    """No endpoint for the role, or the endpoint failed; the message says which."""


def model_name(llm: LLMSettings, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown LLM role {role!r}")
    return getattr(llm, f"{role}_model")


class ChatEndpoint:
    """One OpenAI-compatible server: chat completions over pooled connections, blocking or async.

    The blocking client (httpx) is shared by every thread. The async one (aiohttp, whose C parser costs
    a third of httpx's per request and per chunk) belongs to the event loop that first used it: the
    API's loop, or the loop that drives the CLI's questions. Connection errors, timeouts and the
    statuses in ``RETRY_STATUSES`` are retried ``max_retries`` times with jittered exponential
    backoff, but only before any of a streamed answer has been read: a stream that breaks part-way
    raises, since its first part may already have been shown.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float, max_retries: int,
                 max_connections: int = 512) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.max_retries = max(0, max_retries)
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._http = httpx.Client(
            headers=self.headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    # Blocking ----------------------------------------------------------------------------------------
    def complete(self, body: dict[str, Any]) -> str:
        response = self._send({**body, "stream": False})
        try:
            return _completion_text(json.loads(response.read()))
        finally:
            response.close()

    def stream(self, body: dict[str, Any]) -> Iterator[str]:
        response = self._send({**body, "stream": True})
        try:
            for line in response.iter_lines():
                text = _chunk_text(line)
                if text is _DONE:
                    return
                if text:
                    yield text
        finally:
            response.close()

    def _send(self, body: dict[str, Any]) -> httpx.Response:
        request = self._http.build_request("POST", self.url, content=_encode(body), headers=_turn_headers())
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                time.sleep(self._retry_delay(attempt, error=exc))
                continue
            if response.status_code < 400:
                return response
            detail = response.read()
            response.close()
            time.sleep(self._retry_delay(attempt, status=response.status_code, detail=detail,
                                         retry_after=response.headers.get("retry-after")))
        raise AssertionError("unreachable: the last attempt raises")

    # Async -------------------------------------------------------------------------------------------
    async def acomplete(self, body: dict[str, Any]) -> str:
        response = await self._asend({**body, "stream": False})
        try:
            return _completion_text(json.loads(await response.read()))
        finally:
            response.release()

    async def astream(self, body: dict[str, Any]) -> AsyncIterator[str]:
        response = await self._asend({**body, "stream": True})
        try:
            async for raw in response.content:  # one line at a time
                text = _chunk_text(raw.decode().rstrip("\r\n"))
                if text is _DONE:
                    return
                if text:
                    yield text
        finally:
            response.release()

    async def _asend(self, body: dict[str, Any]):
        import aiohttp

        session = self._session()
        data = _encode(body)
        for attempt in range(self.max_retries + 1):
            try:
                response = await session.post(self.url, data=data, headers=_turn_headers())
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                await asyncio.sleep(self._retry_delay(attempt, error=exc))
                continue
            if response.status < 400:
                return response
            detail = await response.read()
            response.release()
            await asyncio.sleep(self._retry_delay(attempt, status=response.status, detail=detail,
                                                  retry_after=response.headers.get("retry-after")))
        raise AssertionError("unreachable: the last attempt raises")

    def _session(self):
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = self._sessions[loop] = aiohttp.ClientSession(
                headers=self.headers,
                connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_connections),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=min(self.timeout_s, 10.0),
                                              sock_read=self.timeout_s))
        return session

    async def aclose(self) -> None:
        """Close the async client of the running loop (the blocking one lives as long as the process)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()

    # Shared ------------------------------------------------------------------------------------------
    def _retry_delay(self, attempt: int, *, error: Exception | None = None, status: int | None = None,
                     detail: bytes = b"", retry_after: str | None = None) -> float:
        """Seconds to wait before the next attempt after a connection ``error`` or an HTTP ``status``;
        raises when this failure is final."""
        last = attempt >= self.max_retries
        if error is not None:
            if last:
                raise error
            log.info("LLM request to %s failed (%s), retrying", self.url, error)
        elif last or status not in RETRY_STATUSES:
            raise LLMUnavailable(f"HTTP {status} from {self.url}: {detail.decode(errors='replace')[:300]}")
        try:
            if retry_after:
                return min(float(retry_after), 20.0)
        except ValueError:
            pass
        return min(0.5 * 2 ** attempt, 8.0) * (0.75 + random.random() / 2)


_DONE = object()


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _chunk_text(line: str):
    """The text of one server-sent-events line of a streamed completion: the delta's content, ``""``
    for lines without text, or ``_DONE`` at the end of the stream."""
    if not line.startswith("data:"):
        return ""  # blank separators, comments, "event:" lines
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    chunk = json.loads(data)
    _raise_for_error(chunk)
    choices = chunk.get("choices") or ()
    if not choices:
        return ""
    return (choices[0].get("delta") or {}).get("content") or ""


def _completion_text(payload: Any) -> str:
    _raise_for_error(payload)
    try:
        return payload["choices"][0]["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise LLMUnavailable(f"unexpected completion payload: {str(payload)[:200]}") from exc


def _raise_for_error(payload: Any) -> None:
    if isinstance(payload, dict) and payload.get("error"):
        error = payload["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise LLMUnavailable(f"endpoint error: {str(message)[:300]}")


_endpoints: dict[tuple, ChatEndpoint] = {}
_endpoints_lock = threading.Lock()


def endpoint(settings: Settings, role: str) -> ChatEndpoint | None:
    """The shared client for the role's server, or None in embedded mode (no endpoint configured)."""
    llm = settings.llm
    url = llm.url_for(role)
    if not url:
        return None
    key = (url, llm.api_key, llm.timeout_s, llm.max_retries)
    with _endpoints_lock:
        if key not in _endpoints:
            _endpoints[key] = ChatEndpoint(url, llm.api_key, timeout_s=llm.timeout_s, max_retries=llm.max_retries)
        return _endpoints[key]


async def aclose_clients() -> None:
    """Close every endpoint's async client on the running loop (a server's shutdown, the CLI's exit)."""
    with _endpoints_lock:
        clients = list(_endpoints.values())
    for client in clients:
        await client.aclose()


def _request(settings: Settings, role: str, prompt: str | Sequence) -> dict[str, Any]:
    return {"model": model_name(settings.llm, role), "messages": openai_messages(prompt),
            "temperature": settings.llm.temperature}


def openai_messages(prompt: str | Sequence) -> list[dict[str, str]]:
    """A prompt as chat messages: a string is one user turn; ``(role, text)`` pairs and langchain messages
    are mapped to OpenAI roles."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    messages = []
    for item in prompt:
        if isinstance(item, tuple):
            role, content = item
        else:  # a langchain BaseMessage
            role, content = item.type, item.content
        if role not in _ROLE_NAMES:
            raise ValueError(f"unknown message role {role!r}")
        messages.append({"role": _ROLE_NAMES[role], "content": content})
    return messages


# What may go wrong talking to an endpoint: its own errors, the network (either client), a timeout, a
# body that is not JSON.
_FAILURES = (LLMUnavailable, httpx.HTTPError, OSError, asyncio.TimeoutError, ValueError)


def _async_failures() -> tuple[type[BaseException], ...]:
    import aiohttp  # imported with the first async call, not with this module (the CLI's start-up)

    return (*_FAILURES, aiohttp.ClientError)


def _unavailable(role: str, exc: Exception) -> LLMUnavailable:
    log.warning("LLM %s failed: %s", role, exc)
    detail = str(exc) if isinstance(exc, LLMUnavailable) else f"{type(exc).__name__}: {exc}"
    return LLMUnavailable(f"{role} endpoint failed: {detail}")


def _client_for(settings: Settings, role: str) -> ChatEndpoint:
    client = endpoint(settings, role)
    if client is None:
        raise LLMUnavailable(f"no endpoint configured for {role}")
    return client


def complete(settings: Settings, role: str, prompt: str | Sequence) -> str:
    """One completion; raises LLMUnavailable on no endpoint or any failure."""
    client = _client_for(settings, role)
    try:
        return client.complete(_request(settings, role, prompt))
    except _FAILURES as exc:
        raise _unavailable(role, exc) from exc


def stream(settings: Settings, role: str, prompt: str | Sequence) -> Iterator[str]:
    """Stream text pieces; raises LLMUnavailable if the stream cannot start or breaks."""
    client = _client_for(settings, role)
    try:
        yield from client.stream(_request(settings, role, prompt))
    except _FAILURES as exc:
        raise _unavailable(role, exc) from exc


async def acomplete(settings: Settings, role: str, prompt: str | Sequence) -> str:
    """:func:`complete` on the running event loop."""
    client = _client_for(settings, role)
    try:
        return await client.acomplete(_request(settings, role, prompt))
    except Exception as exc:
        if isinstance(exc, _async_failures()):
            raise _unavailable(role, exc) from exc
        raise


async def astream(settings: Settings, role: str, prompt: str | Sequence) -> AsyncIterator[str]:
    """:func:`stream` on the running event loop."""
    client = _client_for(settings, role)
    try:
        async for text in client.astream(_request(settings, role, prompt)):
            yield text
    except Exception as exc:
        if isinstance(exc, _async_failures()):
            raise _unavailable(role, exc) from exc
        raise


@lru_cache(maxsize=32)
def _chat_openai(base_url: str, api_key: str, model: str, timeout_s: float, max_retries: int, temperature: float):
    from langchain_openai import ChatOpenAI

    # max_retries: the openai client retries connection errors and 5xx with exponential backoff.
    return ChatOpenAI(base_url=base_url, api_key=api_key, model=model, timeout=timeout_s,
                      max_retries=max_retries, temperature=temperature)


def chat_model(settings: Settings, role: str):
    """The langchain ChatOpenAI for a role (tool calling), or None in embedded mode."""
    llm = settings.llm
    url = llm.url_for(role)
    if not url:
        return None
    return _chat_openai(url, llm.api_key, model_name(llm, role), llm.timeout_s, llm.max_retries, llm.temperature)
