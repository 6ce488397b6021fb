"""A local OpenAI-compatible LLM server for tests and load tests.

It speaks just enough of the OpenAI chat API (``/v1/models``, ``/v1/chat/completions`` with and without
SSE streaming, ``tool_calls``) that the real ``langchain_openai`` / ``openai`` clients run their full HTTP
path against it. Everything a test needs to control is an attribute of :class:`StubLLM` and may be changed
while the server runs:

* ``replies``: a callable ``(request) -> str | Reply | dict | None`` or a dict keyed by model name or by a
  substring of the last user message; the first match wins, then ``default_reply``.
* ``ttft_s`` / ``tokens_per_s``: latency before the first token and the decode rate.
* ``failure``: ``None`` or a callable ``(request) -> "500" | "hang" | "close" | None`` or one of those
  strings; ``"close"`` drops the connection mid-stream (mid-body when not streaming).
* ``requests``: every request received, with its model name, the ``X-Nianbao-Turn`` it came with and
  timings (what it slept, and how long it spent serving the request), so tests assert that LoRA adapters
  are addressed by name and load tests subtract the stub's own time, turn by turn.

Run in-process with ``with StubLLM(...).serve() as stub: stub.base_url`` or as
``python -m serving.testing.stub_llm --port 8001 --ttft-ms 200 --tokens-per-s 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Module level, not inside app(): FastAPI resolves the string annotations (PEP 563) in module globals.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from serving.inprocess import run_in_thread

DEFAULT_MODELS = ("nianbao-answer", "intent", "nl2sql", "keywords")
FAILURES = ("500", "hang", "close")

# One token per CJK character, ASCII word, run of spaces or other symbol: close enough to a real
# tokenizer for latency modelling, and it keeps streamed pieces re-joinable into the exact reply.
_TOKEN = re.compile(r"[A-Za-z0-9_.]+|\s+|.", re.S)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass
class Reply:
    """A scripted reply: text, or tool calls (``[{"name": ..., "arguments": {...}}]``), or both."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


Rule = Callable[[dict[str, Any]], "str | Reply | dict | None"]


def _as_reply(value: Any) -> Reply | None:
    if value is None or isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(content=value)
    if isinstance(value, dict):
        return Reply(content=value.get("content", ""), tool_calls=list(value.get("tool_calls", [])))
    raise TypeError(f"a stub reply must be str, Reply or dict, not {type(value).__name__}")


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # OpenAI content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class StubLLM:
    def __init__(
        self,
        *,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        replies: Rule | dict[str, Any] | None = None,
        default_reply: str = "好的。",
        ttft_s: float = 0.0,
        tokens_per_s: float = 0.0,  # 0 = no decode delay
        tokens_per_chunk: int = 1,
        failure: str | Callable[[dict[str, Any]], str | None] | None = None,
        strict_models: bool = True,
    ) -> None:
        self.models = list(models)
        self.replies = replies
        self.default_reply = default_reply
        self.ttft_s = ttft_s
        self.tokens_per_s = tokens_per_s
        self.tokens_per_chunk = max(1, tokens_per_chunk)
        self.failure = failure
        self.strict_models = strict_models
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closing: asyncio.Event | None = None
        self.base_url = ""  # set by serve(): "http://127.0.0.1:PORT/v1"

    # What tests read -------------------------------------------------------------------------------
    @property
    def models_requested(self) -> list[str]:
        with self._lock:
            return [r["model"] for r in self.requests]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    # Scripting --------------------------------------------------------------------------------------
    def reply_for(self, request: dict[str, Any]) -> Reply:
        rules = self.replies
        if callable(rules):
            reply = _as_reply(rules(request))
            if reply is not None:
                return reply
        elif isinstance(rules, dict):
            if request.get("model") in rules:
                return _as_reply(rules[request["model"]])
            text = last_user_text(request.get("messages", []))
            for key, value in rules.items():
                if key and key in text:
                    return _as_reply(value)
        return Reply(content=self.default_reply)

    def failure_for(self, request: dict[str, Any]) -> str | None:
        mode = self.failure(request) if callable(self.failure) else self.failure
        if mode is not None and mode not in FAILURES:
            raise ValueError(f"unknown failure mode {mode!r}; use one of {FAILURES}")
        return mode

    # The ASGI app ----------------------------------------------------------------------------------
    def app(self):
        app = FastAPI(title="nianbao stub LLM", docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/v1/models")
        async def models():
            return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "stub"} for m in self.models]}

        @app.get("/stub/requests")
        async def recorded():
            with self._lock:
                return {"requests": list(self.requests)}

        @app.post("/stub/reset")
        async def reset():
            self.reset()
            return {"ok": True}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            started = time.perf_counter()
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "invalid_request_error", "body is not JSON")
            model = body.get("model")
            record = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "model": model,
                "turn": request.headers.get("x-nianbao-turn"),  # which turn of the agent asked
                "stream": bool(body.get("stream")),
                "messages": body.get("messages", []),
                "tools": [t.get("function", {}).get("name") for t in body.get("tools") or []],
                "arrived": time.time(),
                "slept_before_first_token_s": 0.0,  # measured; see _sleep
                "slept_total_s": 0.0,
                "requested_sleep_s": 0.0,  # what the configured latencies asked for
                # The request's whole time in this server, as its client sees it minus the network:
                # the sleeps, their lateness, and the server's own work (what a load test subtracts).
                "served_before_first_token_s": None,
                "served_total_s": None,
                "started": started,
                "first_token": None,
                "finished": None,
                "outcome": "ok",
            }
            with self._lock:
                self.requests.append(record)
            if self.strict_models and model not in self.models:
                record["outcome"] = "unknown_model"
                return _error(404, "model_not_found", f"The model `{model}` does not exist.")
            failure = self.failure_for(body)
            if failure == "500":
                record["outcome"] = "500"
                return _error(500, "server_error", "injected failure")
            if failure == "hang":
                record["outcome"] = "hang"
                await self._wait_closing()
                return _error(503, "server_error", "stub shutting down")
            reply = self.reply_for(body)
            offered = set(record["tools"])
            calls = [c for c in reply.tool_calls if c.get("name") in offered]
            if record["stream"]:
                return StreamingResponse(
                    self._stream(record, reply.content, calls, close=failure == "close"),
                    media_type="text/event-stream",
                )
            await self._sleep(record, self.ttft_s + self._decode_s(len(tokenize(reply.content))))
            record["first_token"] = record["finished"] = time.time()
            payload = _completion(record, reply.content, calls)
            record["served_before_first_token_s"] = record["served_total_s"] = time.perf_counter() - started
            if failure == "close":
                record["outcome"] = "close"
                return _TruncatedJSON(payload)
            return JSONResponse(payload)

        return app

    # Internals ---------------------------------------------------------------------------------------
    def _decode_s(self, n_tokens: int) -> float:
        return n_tokens / self.tokens_per_s if self.tokens_per_s > 0 else 0.0

    async def _sleep(self, record: dict[str, Any], seconds: float, *, first_token: bool = True) -> None:
        """Sleep, recording the time actually slept: a timer fires late on a busy machine, and that
        lateness is the stub's, not the service's (load tests subtract these figures)."""
        if seconds > 0:
            start = time.perf_counter()
            await asyncio.sleep(seconds)
            slept = time.perf_counter() - start
            record["requested_sleep_s"] += seconds
            record["slept_total_s"] += slept
            if first_token:
                record["slept_before_first_token_s"] += slept

    async def _wait_closing(self) -> None:
        if self._closing is None:
            await asyncio.sleep(3600)
        else:
            await self._closing.wait()

    async def _stream(self, record, content: str, calls: list[dict], *, close: bool):
        base = {"id": record["id"], "object": "chat.completion.chunk", "created": int(record["arrived"]), "model": record["model"]}

        def chunk(delta: dict, finish: str | None = None) -> str:
            data = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        await self._sleep(record, self.ttft_s)
        record["first_token"] = time.time()
        yield chunk({"role": "assistant", "content": ""})
        tokens = tokenize(content)
        # Like vLLM's --stream-interval: the first token goes out at once, later ones in groups of `step`.
        step = self.tokens_per_chunk
        starts = [0, *range(1, len(tokens), step)] if tokens else []
        for n, i in enumerate(starts):
            if close and i >= len(tokens) // 2:
                record["outcome"] = "close"
                # Raising after the headers went out makes uvicorn drop the connection: the client sees
                # a truncated chunked body, exactly like a vLLM worker dying mid-generation.
                raise ConnectionAbortedError("injected mid-stream close")
            end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
            if i and self.tokens_per_s > 0:
                await self._sleep(record, (end - i) / self.tokens_per_s, first_token=False)
            yield chunk({"content": "".join(tokens[i:end])})  # resumes once the chunk was sent
            if record["served_before_first_token_s"] is None:
                record["served_before_first_token_s"] = time.perf_counter() - record["started"]
        if close:  # empty reply: still honour the failure
            record["outcome"] = "close"
            raise ConnectionAbortedError("injected mid-stream close")
        for index, call in enumerate(calls):
            yield chunk({"tool_calls": [_tool_call(call, index)]})
        record["finished"] = time.time()
        yield chunk({}, "tool_calls" if calls else "stop")
        yield "data: [DONE]\n\n"
        record["served_total_s"] = time.perf_counter() - record["started"]
        if record["served_before_first_token_s"] is None:  # no text: the first token is the end
            record["served_before_first_token_s"] = record["served_total_s"]

    # Running ---------------------------------------------------------------------------------------
    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator["StubLLM"]:
        """Serve on a (free) loopback port in a background thread for the duration of the block."""
        with run_in_thread(self.app(), host=host, port=port, on_loop=self._bind_loop) as url:
            self.base_url = f"{url}/v1"
            try:
                yield self
            finally:
                if self._closing is not None and self._loop is not None:
                    self._loop.call_soon_threadsafe(self._closing.set)

    _loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._closing = asyncio.Event()


def _error(status: int, kind: str, message: str):
    return JSONResponse({"error": {"message": message, "type": kind, "code": kind}}, status_code=status)


def _tool_call(call: dict[str, Any], index: int) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    return {
        "index": index,
        "id": call.get("id") or f"call_{uuid.uuid4().hex[:8]}",
        "type": "function",
        "function": {"name": call["name"], "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)},
    }


def _completion(record: dict[str, Any], content: str, calls: list[dict]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content or (None if calls else "")}
    if calls:
        message["tool_calls"] = [{k: v for k, v in _tool_call(c, i).items() if k != "index"} for i, c in enumerate(calls)]
    prompt_tokens = sum(len(tokenize(str(m.get("content") or ""))) for m in record["messages"])
    completion_tokens = len(tokenize(content))
    return {
        "id": record["id"],
        "object": "chat.completion",
        "created": int(record["arrived"]),
        "model": record["model"],
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }


class _TruncatedJSON:
    """An ASGI response that announces a full JSON body, sends half of it and then drops the connection."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.body = json.dumps(payload).encode()

    async def __call__(self, scope, receive, send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise ConnectionAbortedError("injected mid-body close")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.testing.stub_llm", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--tokens-per-s", type=float, default=0.0)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--reply", default="好的。", help="the default reply text")
    parser.add_argument("--replies", help="a JSON file: {model name or prompt substring: reply}")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--any-model", action="store_true", help="accept model names not in --models")
    args = parser.parse_args(argv)

    import uvicorn

    replies = json.loads(open(args.replies, encoding="utf-8").read()) if args.replies else None
    stub = StubLLM(
        models=[m for m in args.models.split(",") if m],
        replies=replies,
        default_reply=args.reply,
        ttft_s=args.ttft_ms / 1000,
        tokens_per_s=args.tokens_per_s,
        tokens_per_chunk=args.tokens_per_chunk,
        strict_models=not args.any_model,
    )
    uvicorn.run(stub.app(), host=args.host, port=args.port, log_level="warning", backlog=2048)


if __name__ == "__main__":
    main()
