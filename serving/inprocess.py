"""Run an ASGI app under uvicorn on a loopback port in a background thread (tests, load tests, benches)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def run_in_thread(app, *, host: str = "127.0.0.1", port: int = 0, on_loop=None,
                  options: dict | None = None) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a daemon thread; yields its base URL (no trailing slash).
    ``options``: more ``uvicorn.Config`` arguments (the API's: :func:`serving.server.uvicorn_options`)."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", timeout_graceful_shutdown=1, backlog=2048,
                            **(options or {}))
    server = uvicorn.Server(config)

    def target() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        if on_loop is not None:
            on_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))
        loop.close()

    thread = threading.Thread(target=target, name=f"uvicorn-{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
