"""A minimal HTTP/1.1 client for streamed ``POST /v1/ask`` turns, for the load generator.

On a 2-core machine the load generator competes with the service for CPU, and every millisecond it spends
shows up as "service overhead". httpx (h11, anyio) costs ~10 ms of CPU per streamed turn here; this reads
the chunked SSE body straight off an asyncio stream for a fraction of that. Plain http:// only, one
keep-alive connection per conversation; anything else goes through httpx.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit


class TurnResult(dict):
    """{"status", "ttft_s", "total_s", "tokens", "final" | "error"}"""


class SSEConnection:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError("SSEConnection speaks plain http only")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def ask(self, question: str, thread_id: str) -> TurnResult:
        body = json.dumps({"question": question, "thread_id": thread_id}, ensure_ascii=False).encode()
        head = (f"POST /v1/ask?stream=true HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nAccept: text/event-stream\r\n{self.extra}"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        start = time.perf_counter()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(head + body)
        try:
            return await self._read(start)
        except BaseException:
            await self.close()  # a half-read response leaves the connection unusable
            raise

    async def _read(self, start: float) -> TurnResult:
        reader = self.reader
        status = int((await reader.readline()).split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("connection", "").lower() == "close":
            self.writer = None  # read this response, then reconnect next time
        if "chunked" not in headers.get("transfer-encoding", ""):
            data = await reader.readexactly(int(headers.get("content-length", "0")))
            return TurnResult(status=status, error=data.decode(errors="replace")[:200])
        result = TurnResult(status=status, ttft_s=None, tokens=0)
        buffer = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            buffer += (await reader.readexactly(size + 2))[:-2]
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                self._event(block, result, start)
        if "final" not in result and "error" not in result:
            result["error"] = "stream ended without a final event"
        return result

    @staticmethod
    def _event(block: bytes, result: TurnResult, start: float) -> None:
        if not block.startswith(b"event: "):
            return
        name, _, rest = block[7:].partition(b"\n")
        if name in (b"token", b"final") and result["ttft_s"] is None:
            result["ttft_s"] = time.perf_counter() - start
        if name == b"token":
            result["tokens"] += 1
        elif name == b"final":
            result["total_s"] = time.perf_counter() - start
            result["final"] = json.loads(rest[6:])["result"]
        elif name == b"error":
            error: Any = json.loads(rest[6:]).get("error", {})
            result["error"] = error.get("code", "error")
