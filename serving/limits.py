"""Admission checks run before a request reaches the agent: API key, rate limit, body size, JSON shape."""

from __future__ import annotations

import hmac
import json
import threading
import time
from typing import Any

from fastapi import Request

from serving.errors import ApiError
from serving.settings import ServingSettings


def api_key_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authenticate(request: Request, serving: ServingSettings) -> str:
    """The caller's identity for rate limiting: its key, or its address when keys are not configured."""
    key = api_key_of(request)
    if not serving.api_keys:
        return key or (request.client.host if request.client else "anonymous")
    if key is None:
        raise ApiError(401, "missing_api_key", "an API key is required: send 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": "Bearer"})
    # compare_digest against every key: the time taken does not reveal how much of a key matched.
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in serving.api_keys):
        raise ApiError(401, "invalid_api_key", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    return key


class TokenBuckets:
    """One token bucket per identity; ``rate_per_s`` tokens refill each second up to ``burst``."""

    def __init__(self, rate_per_s: float, burst: int, max_identities: int = 100_000) -> None:
        self.rate, self.burst, self.max_identities = rate_per_s, burst, max_identities
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, identity: str) -> float:
        """0 when admitted, else the seconds until a token is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(identity, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[identity] = (tokens - 1, now)
                return 0.0
            self._buckets[identity] = (tokens, now)
            if len(self._buckets) > self.max_identities:  # forget the idle ones rather than grow forever
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return (1 - tokens) / self.rate

    def check(self, identity: str) -> None:
        wait = self.take(identity)
        if wait > 0:
            retry = max(1, int(wait + 0.999))
            raise ApiError(429, "rate_limited", f"too many requests; retry in {retry} s",
                           headers={"Retry-After": str(retry)})


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    """The JSON object body, reading at most ``max_bytes`` (a lying or absent Content-Length included)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "body_too_large", f"the request body exceeds {max_bytes} bytes")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > max_bytes:
            raise ApiError(413, "body_too_large", f"the request body exceeds {max_bytes} bytes")
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty; send a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    return data
