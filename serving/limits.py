"""Admission checks run before a request reaches the agent: API key, rate limits, body size, time, depth
and JSON shape."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from serving.errors import ApiError
from serving.settings import ServingSettings


@dataclass(frozen=True)
class Caller:
    """Who is asking, as far as the server verified it. ``tenant``: the digest of a valid API key (the
    owner of the threads it starts), None without keys configured. ``bucket``: its rate limit's name."""

    tenant: str | None
    bucket: str


def tenant_of(key: str) -> str:
    # A digest: what is stored next to the threads, or logged, is never a key.
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "anonymous"


def api_key_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authenticate(request: Request, serving: ServingSettings) -> Caller:
    """The verified caller. Without keys configured a sent key proves nothing, so the client's address
    names its rate limit: keyed on the sent key, rotating made-up keys would step around the limit."""
    if not serving.api_keys:
        return Caller(None, f"addr:{client_address(request)}")
    key = api_key_of(request)
    if key is None:
        raise ApiError(401, "missing_api_key", "an API key is required: send 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": "Bearer"})
    # compare_digest against every key: the time taken does not reveal how much of a key matched.
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in serving.api_keys):
        raise ApiError(401, "invalid_api_key", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    tenant = tenant_of(key)
    return Caller(tenant, f"key:{tenant}")


class TokenBuckets:
    """One token bucket per identity; ``rate_per_s`` tokens refill each second up to ``burst``."""

    def __init__(self, rate_per_s: float, burst: int, max_identities: int = 100_000) -> None:
        self.rate, self.burst, self.max_identities = rate_per_s, burst, max_identities
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, identity: str) -> float:
        """0 when admitted (a token is spent), else the seconds until a token is available."""
        return self._spend(identity, take=True)

    def wait(self, identity: str) -> float:
        """Like :meth:`take` without spending: 0 while ``identity`` has a token left."""
        return self._spend(identity, take=False)

    def _spend(self, identity: str, *, take: bool) -> float:
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(identity, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                if take:
                    self._buckets[identity] = (tokens - 1, now)
                return 0.0
            self._buckets[identity] = (tokens, now)
            if len(self._buckets) > self.max_identities:  # forget the idle ones rather than grow forever
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return (1 - tokens) / self.rate

    def check(self, identity: str) -> None:
        """Spend a token of ``identity``'s, or raise 429."""
        _refuse_after(self.take(identity))

    def check_left(self, identity: str) -> None:
        """Raise 429 while ``identity`` has no token left (spending none)."""
        _refuse_after(self.wait(identity))


def _refuse_after(wait: float) -> None:
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        raise ApiError(429, "rate_limited", f"too many requests; retry in {retry} s",
                       headers={"Retry-After": str(retry)})


async def read_json(request: Request, serving: ServingSettings) -> dict[str, Any]:
    """The JSON object body: at most ``max_body_bytes`` (a lying or absent Content-Length included), read
    within ``body_timeout_s`` (a client trickling its body in does not hold the request: 408), nested at
    most ``max_json_depth`` deep (json's recursive parser would otherwise fail with a RecursionError)."""
    max_bytes = serving.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "body_too_large", f"the request body exceeds {max_bytes} bytes")
    try:
        async with asyncio.timeout(serving.body_timeout_s):
            body = await _read_body(request, max_bytes)
    except TimeoutError:
        # Connection: close: the rest of the body may still be on its way; the connection cannot be reused.
        raise ApiError(408, "request_timeout", f"the request body did not arrive within {serving.body_timeout_s:g} s",
                       headers={"Connection": "close"}) from None
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty; send a JSON object")
    if nested_deeper(body, serving.max_json_depth):
        raise ApiError(400, "body_too_deep", f"the JSON body nests deeper than {serving.max_json_depth} levels")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:  # not reached past nested_deeper; kept so that no body can make a 500
        raise ApiError(400, "body_too_deep", "the JSON body nests too deep") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    return data


async def _read_body(request: Request, max_bytes: int) -> bytes:
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > max_bytes:
            raise ApiError(413, "body_too_large", f"the request body exceeds {max_bytes} bytes")
    return bytes(body)


# Brackets, quotes and backslashes: all that decides how deep a JSON text nests.
_JSON_SYNTAX = re.compile(rb'[\[\]{}"\\]')
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = b"[{", b"]}", ord('"'), ord("\\")


def nested_deeper(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``body`` nest deeper than ``limit`` (brackets inside strings do not
    count). Linear in the body; a body with fewer brackets than the limit is not scanned at all."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped_at = 0, False, -1
    for match in _JSON_SYNTAX.finditer(body):
        at = match.start()
        if at == escaped_at:  # the character after a backslash is never syntax
            continue
        char = body[at]
        if in_string:
            if char == _BACKSLASH:
                escaped_at = at + 1
            elif char == _QUOTE:
                in_string = False
        elif char == _QUOTE:
            in_string = True
        elif char in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif char in _CLOSE:
            depth -= 1
    return False
