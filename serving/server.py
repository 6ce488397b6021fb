"""uvicorn for the API, with a deadline for each request's head: ``uvicorn_options(serving)``.

uvicorn bounds an idle kept-alive connection (``timeout_keep_alive``) and the head's size, but not the
time a head takes: a fresh connection that sends nothing, or a head sent a byte at a time (any byte
cancels the keep-alive timer), holds its connection indefinitely; a few thousand such connections are a
denial of service. The protocols here close a connection whose request line and
headers have not all arrived ``header_timeout_s`` after it opened, or after the first byte of a next
request on a kept-alive one (408 when part of a head came, silently when nothing did). The body's
deadline is the app's (:func:`serving.limits.read_json`): only a route knows whether it reads one.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol as _H11

from serving.settings import ServingSettings

_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _HeadDeadline:
    """Mixed into a uvicorn HTTP protocol. Both keep ``self.cycle``: a new cycle means a head arrived."""

    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout_s = header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_cycle: Any = None  # the cycle when the timer was armed
        self._head_bytes = False  # whether part of the head came (then the client is told 408)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_deadline()  # the first bytes of a next request on a kept-alive connection
        self._head_bytes = True
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._head_cycle:
            self._disarm_head_deadline()  # the head is complete; the route bounds the body

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._head_cycle, self._head_bytes = self.cycle, False
        self._head_timer = self.loop.call_later(self._head_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:  # no response is under way: the head never completed
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()


class H11Protocol(_HeadDeadline, _H11):
    pass


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpTools
except ImportError:  # httptools is optional (uvicorn[standard]); h11 always comes with uvicorn
    HttpToolsProtocol = None
else:
    class HttpToolsProtocol(_HeadDeadline, _HttpTools):
        pass


def uvicorn_options(serving: ServingSettings, *, http: str = "auto") -> dict[str, Any]:
    """``uvicorn.run`` / ``uvicorn.Config`` keyword arguments for the API. ``http``: "auto" (httptools
    when installed, as uvicorn chooses), "h11" or "httptools"."""
    if http == "httptools" and HttpToolsProtocol is None:
        raise ValueError("httptools is not installed")
    protocol = H11Protocol if http == "h11" or HttpToolsProtocol is None else HttpToolsProtocol
    # A partial of a module-level class: uvicorn pickles its config into each worker process.
    return {"http": functools.partial(protocol, header_timeout_s=serving.header_timeout_s),
            "timeout_keep_alive": serving.keep_alive_s}
