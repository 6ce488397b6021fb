"""The nianbao HTTP API: ``create_app(settings, *, ask_astream=... or ask_stream=...)``.

Routes: ``POST /v1/ask`` (JSON, or server-sent events with ``?stream=true`` / ``Accept: text/event-stream``),
the OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``, ``GET /v1/threads/{id}``,
``/healthz``, ``/metrics`` and the analyst web chat at ``/``.

The agent runs on the event loop: its graph and LLM clients are async, so 128 conversations waiting on
the models cost no threads, and the little CPU each turn needs is never contended for the interpreter
lock by a hundred threads. A blocking agent (``ask_stream``: tests' fakes, a module without
``ask_astream``) runs on a thread pool instead.
"""

from __future__ import annotations

import gc
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from knowledge.configuration import Settings, get_settings
from serving import backend, errors
from serving.backend import AskAStream, AskStream
from serving.errors import ApiError, log
from serving.limits import Caller, TokenBuckets, authenticate, client_address, read_json
from serving.metrics import Metrics
from serving.openai_compat import Completion, question_from_messages
from serving.owners import owners_for
from serving.settings import ServingSettings
from serving.streaming import SSE_HEADERS, sse, sse_data
from serving.threads import ThreadLog

STATIC = Path(__file__).parent / "static"
# ASCII letters, digits and a few separators: enough for UUIDs, e-mails in OpenAI's `user`, and our own
# ids. Always fullmatch()ed: `$` would accept a trailing newline. An id is echoed in X-Thread-Id, so a
# non-ASCII letter (\w) or a control character would break the response after the turn had run.
_THREAD_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
# C0 control characters other than tab and newline: never meaningful in a question, dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Paths that are counted under their own label; anything else is "other" (bounded label cardinality).
_ENDPOINTS = ("/v1/ask", "/v1/chat/completions", "/v1/models", "/v1/threads", "/healthz", "/metrics", "/")


def create_app(
    settings: Settings | None = None,
    *,
    ask_astream: AskAStream | None = None,
    ask_stream: AskStream | None = None,
    serving: ServingSettings | None = None,
) -> FastAPI:
    """The app answering with ``ask_astream`` (async events), else the blocking ``ask_stream``, else the
    module named by ``serving.agent``."""
    settings = settings or get_settings()
    serving = serving or ServingSettings()
    metrics = Metrics(settings.mode)
    buckets = TokenBuckets(serving.rate_per_s, serving.rate_burst)
    auth_failures = TokenBuckets(serving.auth_failures_per_s, serving.auth_failure_burst)
    # Without keys there is one tenant and threads are shared, as before; with keys each has its own.
    owners = owners_for(settings) if serving.api_keys else None
    thread_log = ThreadLog(serving.thread_log_size)
    executor = ThreadPoolExecutor(max_workers=serving.worker_threads, thread_name_prefix="nianbao-ask")
    agent_module = None
    if ask_astream is None and ask_stream is not None:
        ask_astream = backend.from_blocking(ask_stream, executor)
    elif ask_astream is None:
        agent_module = serving.agent
        ask_astream = backend.resolve(agent_module, executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if agent_module is not None and serving.warm_up:
            try:
                await backend.warm_up(agent_module, settings)
            except Exception:  # the first question will build what is missing, or fail with a clear error
                log.exception("warming up the agent failed")
        # What was loaded so far (modules, indexes, data files) lives as long as the process: moved out
        # of the collector's reach, a full collection no longer walks it (collections of 100-250 ms
        # stalled every conversation on the loop under load). A turn allocates tens of thousands of
        # short-lived objects; with the default threshold (700) the collector ran about 12 times per turn
        # and its older generations paused the loop for up to 100 ms: see ServingSettings.gc_thresholds.
        gc.collect()
        gc.freeze()
        if serving.gc_thresholds:
            gc.set_threshold(*serving.gc_thresholds)
        yield
        if agent_module is not None:
            await backend.shut_down(agent_module)
        if owners is not None:
            await owners.close()
        executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="nianbao", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.metrics, app.state.serving, app.state.settings = metrics, serving, settings
    errors.install(app, on_error=lambda path, kind: metrics.error(_endpoint(path), kind))
    app.add_middleware(_CountRequests, metrics=metrics)

    # Admission ---------------------------------------------------------------------------------------
    def admit(request: Request) -> Caller:
        address = client_address(request)
        if serving.api_keys:
            # An address out of failures is refused whatever key it sends now: were a right key let
            # through, a guess that hits would still pass and the 429s would tell wrong keys from right.
            auth_failures.check_left(address)
        try:
            caller = authenticate(request, serving)
        except ApiError as exc:
            if exc.status == 401:
                auth_failures.take(address)
            raise
        buckets.check(caller.bucket)
        return caller

    def checked_question(value: Any) -> str:
        if not isinstance(value, str):
            raise ApiError(400, "invalid_question", "'question' must be a string")
        question = _CONTROL.sub("", value).strip()
        if not question:
            raise ApiError(400, "empty_question", "'question' is empty")
        if len(question) > serving.max_question_chars:
            raise ApiError(400, "question_too_long",
                           f"'question' has {len(question)} characters; the limit is {serving.max_question_chars}")
        return question

    def checked_thread(value: Any, source: str) -> str:
        if value is None or value == "":
            return uuid.uuid4().hex
        if not isinstance(value, str) or not _THREAD_ID.fullmatch(value):
            raise ApiError(400, "invalid_thread_id",
                           f"{source} must be 1-128 ASCII letters, digits or . _ : @ -")
        return value

    def unknown_thread(thread_id: str) -> ApiError:
        # The same answer for another tenant's thread as for one that does not exist: nothing to probe.
        return ApiError(404, "unknown_thread", f"no thread {thread_id!r} on this server")

    async def claim(caller: Caller, thread_id: str) -> None:
        """Before a turn runs on ``thread_id``: 404 unless the caller owns it, or owns it now (a new id)."""
        if owners is not None and not await owners.claim(thread_id, caller.tenant):
            raise unknown_thread(thread_id)

    # Running the agent -------------------------------------------------------------------------------
    async def answered(question: str, thread_id: str, endpoint: str) -> AsyncIterator[dict[str, Any]]:
        """The agent's step, token and reset events, then its final one; times the first token and
        the turn. Failures propagate: to the error handlers (JSON routes) or into an error event."""
        start = time.perf_counter()
        first = True
        metrics.in_flight.inc()
        try:
            async for event in ask_astream(question, thread_id=thread_id, settings=settings):
                kind = event.get("type") if isinstance(event, dict) else None
                if kind in ("token", "final") and first:
                    first = False
                    metrics.ttft.labels(endpoint=endpoint).observe(time.perf_counter() - start)
                if kind == "final":
                    result = event["result"]
                    result.setdefault("thread_id", thread_id)
                    metrics.answered(result)
                    thread_log.add(thread_id, question, result)
                    metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - start)
                    yield event
                    return
                if kind in ("step", "token", "reset"):
                    yield event
            raise RuntimeError("the agent's stream ended without a final event")
        finally:
            metrics.in_flight.dec()

    async def run_ask(question: str, thread_id: str, endpoint: str) -> dict[str, Any]:
        """The final result of a turn, for the non-streaming routes (their first token is the answer)."""
        async for event in answered(question, thread_id, endpoint):
            if event["type"] == "final":
                return event["result"]
        raise AssertionError("unreachable: answered() ends with a final event or raises")

    async def events(question: str, thread_id: str, endpoint: str) -> AsyncIterator[dict[str, Any]]:
        """``answered`` for a stream, whose status line has gone out: a failure becomes an error event."""
        try:
            async for event in answered(question, thread_id, endpoint):
                yield event
        except ApiError as exc:
            metrics.error(endpoint, exc.code)
            yield {"type": "error", "error": errors.error_body(exc.status, exc.code, exc.message)["error"]}
        except Exception:  # a bug of ours mid-stream: log it, tell the client only that it failed
            request_id = uuid.uuid4().hex[:12]
            log.exception("stream failed %s", request_id)
            metrics.error(endpoint, "internal_error")
            yield {"type": "error", "error": errors.error_body(
                500, "internal_error", "internal error; the server log has the details", request_id=request_id)["error"]}

    # Routes ------------------------------------------------------------------------------------------
    @app.post("/v1/ask")
    async def ask_route(request: Request, stream: bool = False):
        caller = admit(request)
        body = await read_json(request, serving)
        unknown = set(body) - {"question", "thread_id"}
        if unknown:
            raise ApiError(400, "unknown_fields", f"unknown fields: {', '.join(sorted(unknown))}")
        question = checked_question(body.get("question"))
        thread_id = checked_thread(body.get("thread_id"), "'thread_id'")
        await claim(caller, thread_id)
        headers = {"X-Thread-Id": thread_id}  # a checked id: ASCII, no control characters
        if stream or "text/event-stream" in request.headers.get("accept", ""):
            async def body_iter():
                async for event in events(question, thread_id, "/v1/ask"):
                    yield sse(event["type"], event)
            return StreamingResponse(body_iter(), media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
        return JSONResponse(await run_ask(question, thread_id, "/v1/ask"), headers=headers)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        caller = admit(request)
        body = await read_json(request, serving)
        model = body.get("model")
        if model != serving.public_model:
            raise ApiError(404, "model_not_found", f"the model {model!r} does not exist; use {serving.public_model!r}")
        question = checked_question(question_from_messages(body.get("messages")))
        header_thread = request.headers.get("x-thread-id")
        thread_id = checked_thread(header_thread or body.get("user"),
                                   "the X-Thread-Id header" if header_thread else "'user'")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "invalid_request", "'stream' must be true or false")
        await claim(caller, thread_id)  # the last check: a request refused for anything else claims nothing
        completion = Completion(serving.public_model)
        headers = {"X-Thread-Id": thread_id}  # a checked id: ASCII, no control characters
        if not stream:
            result = await run_ask(question, thread_id, "/v1/chat/completions")
            return JSONResponse(completion.full(result), headers=headers)

        async def chunks():
            yield sse_data(completion.chunk({"role": "assistant", "content": ""}))
            streamed = False
            async for event in events(question, thread_id, "/v1/chat/completions"):
                if event["type"] == "token" and event.get("text"):
                    streamed = True
                    yield sse_data(completion.chunk({"content": event["text"]}))
                elif event["type"] == "final":
                    result = event["result"]
                    if not streamed and result.get("answer"):  # an agent path that did not stream tokens
                        yield sse_data(completion.chunk({"content": str(result["answer"])}))
                    yield sse_data(completion.chunk({}, "stop", nianbao=result))
                elif event["type"] == "error":
                    yield sse_data({"error": event["error"]})
            yield sse_data("[DONE]")

        return StreamingResponse(chunks(), media_type="text/event-stream", headers={**SSE_HEADERS, **headers})

    @app.get("/v1/models")
    async def models(request: Request):
        admit(request)
        return {"object": "list", "data": [{"id": serving.public_model, "object": "model", "created": 0, "owned_by": "nianbao"}]}

    @app.get("/v1/threads/{thread_id}")
    async def thread(thread_id: str, request: Request):
        caller = admit(request)
        if not _THREAD_ID.fullmatch(thread_id):
            raise unknown_thread(thread_id)
        if owners is not None and not await owners.owns(thread_id, caller.tenant):  # reading claims nothing
            raise unknown_thread(thread_id)
        turns = thread_log.get(thread_id)
        if turns is None:
            raise unknown_thread(thread_id)
        return {"thread_id": thread_id, "turns": turns}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "mode": settings.mode}

    @app.get("/metrics")
    async def metrics_route():
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _endpoint(path: str) -> str:
    if path.startswith("/v1/threads/"):
        return "/v1/threads"
    return path if path in _ENDPOINTS else ("/static" if path.startswith("/static/") else "other")


class _CountRequests:
    """Pure ASGI (not BaseHTTPMiddleware): counts requests by endpoint and status without buffering streams."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = {"code": 500}

        async def counting_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.metrics.requests.labels(endpoint=_endpoint(scope["path"]), status=str(status["code"])).inc()


def app_factory() -> FastAPI:
    """For ``uvicorn serving.api:app_factory --factory``: settings from the environment."""
    return create_app()
