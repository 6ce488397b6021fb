"""One error shape for every client-facing failure, OpenAI style: ``{"error": {"type", "message", ...}}``.

Bad input is the client's to fix and says exactly what is wrong (4xx). Anything else is a bug of ours: it is
logged with its traceback under a request id, and the client gets only that id and a generic 500.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("nianbao.serving")

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers, extra


def error_body(status: int, code: str, message: str, **extra) -> dict:
    return {"error": {"type": _STATUS_TYPES.get(status, "server_error"), "code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, **extra), status_code=status, headers=headers)


def install(app: FastAPI, on_error=None) -> None:
    """Register the handlers; ``on_error(path, kind)`` counts errors in the metrics."""

    def note(request: Request, kind: str) -> None:
        if on_error is not None:
            on_error(request.url.path, kind)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        note(request, exc.code)
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        note(request, "invalid_request")
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(400, "invalid_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        note(request, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, f"http_{exc.status_code}", message, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        request_id = uuid.uuid4().hex[:12]
        log.exception("internal error %s on %s %s", request_id, request.method, request.url.path)
        note(request, "internal_error")
        return error_response(500, "internal_error", "internal error; the server log has the details", request_id=request_id)
