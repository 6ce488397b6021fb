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

Deadlines. ``timeout_s`` bounds one socket wait, so an endpoint that never answers costs every retry
its full timeout and one that sends a byte now and then is never timed out at all. So every call also
has a wall-clock deadline, ``call_deadline_s`` from its start, or the turn's deadline if that comes
first: ``agent.service`` opens a turn with :func:`turn_budget` (``turn_deadline_s``), and every call of
the turn shares that budget. It holds across connecting, retries (none starts that the budget cannot
wait for) and reading a stream; when it passes, the call raises :class:`LLMDeadline`, an
``LLMUnavailable``, and the node takes its deterministic path. A call that starts with the turn's budget
spent fails at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpcore
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


class LLMDeadline(LLMUnavailable):
    """The call's or the turn's time budget ran out; the message names which deadline."""


# A timer set to the time remaining may fire a little before the deadline (timer resolution; uvloop
# schedules on a clock cached per loop iteration); a call with less left than this could do nothing.
_DEADLINE_SLACK_S = 0.05


@dataclass(frozen=True)
class Deadline:
    """A ``time.monotonic()`` instant by which a call must be over, with the name fallback reasons use."""

    at: float
    what: str  # "call deadline (20 s)", "turn deadline (45 s)"

    @classmethod
    def after(cls, seconds: float, name: str) -> Deadline:
        return cls(time.monotonic() + seconds, f"{name} ({seconds:g} s)")

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= _DEADLINE_SLACK_S

    def expired(self, cause: BaseException | None = None) -> LLMDeadline:
        last = f"; last failure: {_describe(cause)}" if cause is not None else ""
        return LLMDeadline(f"{self.what} passed{last}")


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, LLMUnavailable) else f"{type(exc).__name__}: {exc}".rstrip(": ")


# The deadline of the turn being answered. A context variable, like ``current_turn``, rather than a
# value in the run's config: the LLM calls are made with the settings only (intent, NL2SQL, HyDE, the
# answer, the tool-calling model, the blocking client in worker threads), and asyncio tasks and
# ``asyncio.to_thread`` inherit it, so every call of the turn sees the one budget without each node
# handing it down. A run without a turn (a LangGraph server's) has per-call deadlines only.
turn_deadline: ContextVar[Deadline | None] = ContextVar("nianbao_turn_deadline", default=None)


@contextmanager
def turn_budget(llm: LLMSettings) -> Iterator[Deadline]:
    """Open a turn: the LLM calls made inside share ``llm.turn_deadline_s`` from now."""
    deadline = Deadline.after(llm.turn_deadline_s, "turn deadline")
    token = turn_deadline.set(deadline)
    try:
        yield deadline
    finally:
        try:
            turn_deadline.reset(token)
        except ValueError:  # an abandoned stream closed from another context: nothing was set there
            pass


def call_deadline(llm: LLMSettings) -> Deadline:
    """A call starting now: ``llm.call_deadline_s`` from now, or the turn's deadline if that is sooner.
    Raises :class:`LLMDeadline` when the turn's budget is already spent."""
    call = Deadline.after(llm.call_deadline_s, "call deadline")
    turn = turn_deadline.get()
    if turn is None or call.at <= turn.at:
        return call
    if turn.passed():
        raise LLMDeadline(f"{turn.what} spent before the call")
    return turn


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

    Each call may carry a :class:`Deadline`: nothing of the call (connecting, a retry's backoff, a read)
    waits past it, and passing it raises :class:`LLMDeadline`.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float, max_retries: int,
                 max_connections: int = 512) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.max_retries = max(0, max_retries)
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._http = httpx.Client(
            headers=self.headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=_DeadlineTransport(limits))
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    # Blocking ----------------------------------------------------------------------------------------
    def complete(self, body: dict[str, Any], deadline: Deadline | None = None) -> str:
        try:
            response = self._send({**body, "stream": False}, deadline)
            try:
                with _socket_waits_until(deadline):
                    return _completion_text(json.loads(response.read()))
            finally:
                response.close()
        except httpx.HTTPError as exc:
            _raise_if_passed(deadline, exc)
            raise

    def stream(self, body: dict[str, Any], deadline: Deadline | None = None) -> Iterator[str]:
        try:
            response = self._send({**body, "stream": True}, deadline)
            try:
                lines = response.iter_lines()
                while True:
                    _raise_if_passed(deadline)  # a stream that keeps sending still ends at the deadline
                    with _socket_waits_until(deadline):
                        line = next(lines, None)
                    text = _DONE if line is None else _chunk_text(line)
                    if text is _DONE:
                        return
                    if text:
                        yield text
            finally:
                response.close()
        except httpx.HTTPError as exc:
            _raise_if_passed(deadline, exc)
            raise

    def _send(self, body: dict[str, Any], deadline: Deadline | None) -> httpx.Response:
        request = self._http.build_request("POST", self.url, content=_encode(body), headers=_turn_headers())
        for attempt in range(self.max_retries + 1):
            try:
                with _socket_waits_until(deadline):
                    response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                time.sleep(self._retry_delay(attempt, deadline, error=exc))
                continue
            if response.status_code < 400:
                return response
            with _socket_waits_until(deadline):
                detail = response.read()
            response.close()
            time.sleep(self._retry_delay(attempt, deadline, status=response.status_code, detail=detail,
                                         retry_after=response.headers.get("retry-after")))
        raise AssertionError("unreachable: the last attempt raises")

    # Async -------------------------------------------------------------------------------------------
    async def acomplete(self, body: dict[str, Any], deadline: Deadline | None = None) -> str:
        try:
            response = await self._asend({**body, "stream": False}, deadline)
            try:
                return _completion_text(json.loads(await response.read()))
            finally:
                response.release()
        except _async_transport_errors() as exc:  # evaluated only when something is raised
            _raise_if_passed(deadline, exc)
            raise

    async def astream(self, body: dict[str, Any], deadline: Deadline | None = None) -> AsyncIterator[str]:
        try:
            response = await self._asend({**body, "stream": True}, deadline)
            try:
                while True:
                    _raise_if_passed(deadline)  # a stream that keeps sending still ends at the deadline
                    raw = await response.content.readline()  # one line; b"" at the end
                    text = _chunk_text(raw.decode().rstrip("\r\n")) if raw else _DONE
                    if text is _DONE:
                        return
                    if text:
                        yield text
            finally:
                response.release()
        except _async_transport_errors() as exc:
            _raise_if_passed(deadline, exc)
            raise

    async def _asend(self, body: dict[str, Any], deadline: Deadline | None):
        import aiohttp

        session = self._session()
        data = _encode(body)
        for attempt in range(self.max_retries + 1):
            try:
                response = await session.post(self.url, data=data, headers=_turn_headers(),
                                              timeout=self._attempt_timeout(session, deadline))
            except (aiohttp.ClientError, TimeoutError) as exc:
                await asyncio.sleep(self._retry_delay(attempt, deadline, error=exc))
                continue
            if response.status < 400:
                return response
            detail = await response.read()
            response.release()
            await asyncio.sleep(self._retry_delay(attempt, deadline, status=response.status, detail=detail,
                                                  retry_after=response.headers.get("retry-after")))
        raise AssertionError("unreachable: the last attempt raises")

    def _attempt_timeout(self, session, deadline: Deadline | None):
        """aiohttp's timeouts for one attempt: each socket wait as the session's, and the whole request,
        reading its body or stream included, ended at the deadline (``total``: one timer per request,
        where an ``asyncio.timeout`` around each read would schedule one per streamed chunk).
        ``ceil_threshold``: not rounded up to a whole second, as aiohttp does from 5 s."""
        import aiohttp

        if deadline is None:
            return session.timeout
        return aiohttp.ClientTimeout(total=max(deadline.remaining(), 0.001), sock_connect=min(self.timeout_s, 10.0),
                                     sock_read=self.timeout_s, ceil_threshold=math.inf)

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
    def _retry_delay(self, attempt: int, deadline: Deadline | None, *, error: Exception | None = None,
                     status: int | None = None, detail: bytes = b"", retry_after: str | None = None) -> float:
        """Seconds to wait before the next attempt after a connection ``error`` or an HTTP ``status``;
        raises when this failure is final: the last attempt, a status not worth retrying, or a
        ``deadline`` that has passed or would pass during the wait."""
        failure = error or LLMUnavailable(f"HTTP {status} from {self.url}: {detail.decode(errors='replace')[:300]}")
        _raise_if_passed(deadline, failure)
        if attempt >= self.max_retries or (error is None and status not in RETRY_STATUSES):
            raise failure
        delay = _backoff(attempt, retry_after)
        if deadline is not None and delay >= deadline.remaining():
            raise deadline.expired(failure)  # a retry the budget cannot wait for is not started
        log.info("LLM request to %s failed (%s), retrying in %.2f s", self.url, _describe(failure), delay)
        return delay


def _backoff(attempt: int, retry_after: str | None) -> float:
    """The server's ``Retry-After`` (at most 20 s), else jittered exponential backoff."""
    try:
        if retry_after:
            return min(float(retry_after), 20.0)
    except ValueError:
        pass
    return min(0.5 * 2 ** attempt, 8.0) * (0.75 + random.random() / 2)


def _raise_if_passed(deadline: Deadline | None, cause: BaseException | None = None) -> None:
    if deadline is not None and deadline.passed():
        raise deadline.expired(cause)


def _within(deadline: Deadline | None):
    """An ``asyncio.timeout`` ending at the deadline (none without one)."""
    return asyncio.timeout(None if deadline is None else max(deadline.remaining(), 0.0))


def _async_transport_errors() -> tuple[type[BaseException], ...]:
    import aiohttp  # imported with the first async call, not with this module (the CLI's start-up)

    return (aiohttp.ClientError, TimeoutError, OSError)


# The blocking client's deadline. httpx's timeouts bound each socket wait, and a read restarts them, so
# its transport runs on a network backend that cuts every wait (connect, write, read) at the deadline
# set here around each step of a blocking call, in the calling thread.
_socket_deadline: ContextVar[Deadline | None] = ContextVar("nianbao_llm_socket_deadline", default=None)


@contextmanager
def _socket_waits_until(deadline: Deadline | None) -> Iterator[None]:
    token = _socket_deadline.set(deadline)
    try:
        yield
    finally:
        _socket_deadline.reset(token)


def _clamped(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """A socket wait's timeout, cut to what is left of the current deadline; raises once it has passed."""
    deadline = _socket_deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline.remaining()
    if remaining <= 0:
        raise timeout_error(f"{deadline.what} passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname,
                                                      _clamped(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(
            host, port, _clamped(timeout, httpcore.ConnectTimeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options=None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(
            path, _clamped(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport on :class:`_DeadlineBackend`."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx takes no network backend, so its connection pool is built again with ours (and the same
        # limits and TLS defaults).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend())


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
    kind = LLMDeadline if isinstance(exc, LLMDeadline) else LLMUnavailable
    return kind(f"{role} endpoint failed: {_describe(exc)}")


def _client_for(settings: Settings, role: str) -> ChatEndpoint:
    client = endpoint(settings, role)
    if client is None:
        raise LLMUnavailable(f"no endpoint configured for {role}")
    return client


def complete(settings: Settings, role: str, prompt: str | Sequence) -> str:
    """One completion within the call's deadline; raises LLMUnavailable on no endpoint or any failure
    (LLMDeadline when the deadline passed)."""
    client = _client_for(settings, role)
    try:
        return client.complete(_request(settings, role, prompt), call_deadline(settings.llm))
    except _FAILURES as exc:
        raise _unavailable(role, exc) from exc


def stream(settings: Settings, role: str, prompt: str | Sequence) -> Iterator[str]:
    """Stream text pieces; raises LLMUnavailable if the stream cannot start, breaks or outlasts the
    call's deadline (counted from the first ``next``)."""
    client = _client_for(settings, role)
    try:
        yield from client.stream(_request(settings, role, prompt), call_deadline(settings.llm))
    except _FAILURES as exc:
        raise _unavailable(role, exc) from exc


async def acomplete(settings: Settings, role: str, prompt: str | Sequence) -> str:
    """:func:`complete` on the running event loop."""
    client = _client_for(settings, role)
    try:
        return await client.acomplete(_request(settings, role, prompt), call_deadline(settings.llm))
    except Exception as exc:
        if isinstance(exc, _async_failures()):
            raise _unavailable(role, exc) from exc
        raise


async def astream(settings: Settings, role: str, prompt: str | Sequence) -> AsyncIterator[str]:
    """:func:`stream` on the running event loop."""
    client = _client_for(settings, role)
    try:
        async for text in client.astream(_request(settings, role, prompt), call_deadline(settings.llm)):
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


async def ainvoke_with_tools(settings: Settings, role: str, tools: Sequence, messages: Sequence):
    """The tool-calling model's reply (``chat_model(...).bind_tools(tools)``) within the call's deadline.

    Raises LLMUnavailable with no endpoint, LLMDeadline when the budget is spent or runs out, else what
    the model raised. The openai client's timeout bounds one socket wait and each retry starts it again,
    so each wait gets at most what is left of the budget, and an asyncio timeout ends the whole call,
    retries and their backoff included, at the deadline.
    """
    model = chat_model(settings, role)
    if model is None:
        raise LLMUnavailable(f"no endpoint configured for {role}")
    try:
        deadline = call_deadline(settings.llm)
    except LLMDeadline as exc:
        raise _unavailable(role, exc) from exc
    bound = model.bind_tools(tools, timeout=min(settings.llm.timeout_s, max(deadline.remaining(), 0.001)))
    try:
        async with _within(deadline):
            return await bound.ainvoke(messages)
    except Exception as exc:
        if deadline.passed():
            raise _unavailable(role, deadline.expired(exc)) from exc
        raise
