"""Slow clients against a real uvicorn on 127.0.0.1: a request head or body that trickles in is cut off
(408 or a closed connection) at the configured deadline instead of holding a connection open."""

from __future__ import annotations

import socket
import time

import pytest

pytest.importorskip("uvicorn")

from serving.api import create_app  # noqa: E402
from serving.inprocess import run_in_thread  # noqa: E402
from serving.server import uvicorn_options  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402
from serving.testing.fake_agent import FakeAgent  # noqa: E402

HEADER_S, BODY_S = 0.5, 0.5
BOUND_S = 2.5  # well past the deadlines, well short of "indefinitely"


@pytest.fixture(scope="module", params=["h11", "httptools"])
def server(request, tmp_path_factory):
    if request.param == "httptools":
        pytest.importorskip("httptools")
    from knowledge.configuration import Settings

    serving = ServingSettings(header_timeout_s=HEADER_S, body_timeout_s=BODY_S, warm_up=False)
    app = create_app(Settings(home=tmp_path_factory.mktemp("slow") / "home"), ask_stream=FakeAgent().ask_stream,
                     serving=serving)
    with run_in_thread(app, options=uvicorn_options(serving, http=request.param)) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def connect(server) -> socket.socket:
    sock = socket.create_connection(server, timeout=BOUND_S + 1)
    return sock


def wait_for_close(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    start, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data, time.monotonic() - start


def assert_cut_off(data: bytes, elapsed: float) -> None:
    assert elapsed < BOUND_S, f"held open {elapsed:.1f} s"
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


def test_a_connection_that_sends_nothing_is_closed(server):
    with connect(server) as sock:
        data, elapsed = wait_for_close(sock)
    assert data == b"" and elapsed < BOUND_S


def test_a_partial_request_head_is_cut_off(server):
    with connect(server) as sock:
        sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\n")
        assert_cut_off(*wait_for_close(sock))


def test_a_dripping_request_head_is_cut_off(server):
    """One byte at a time keeps data arriving: the deadline is for the whole head, not between bytes."""
    with connect(server) as sock:
        sock.settimeout(0.2)
        start, data = time.monotonic(), b""
        for byte in b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
                data += sock.recv(4096)
                break  # closed (b"") or answered
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - start
    assert_cut_off(data, elapsed)


def test_a_slow_body_gets_a_408_and_the_connection_closes(server):
    with connect(server) as sock:
        sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n" + b'{"question": ')
        data, elapsed = wait_for_close(sock)
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"request_timeout" in data and elapsed < BOUND_S


def test_a_kept_alive_connection_still_answers_and_its_next_head_has_a_deadline(server):
    body = b'{"question": "x"}'
    request = (b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    with connect(server) as sock:
        sock.sendall(request)
        time.sleep(HEADER_S * 1.5)  # between requests the keep-alive timeout applies, not the head's
        sock.sendall(request)
        time.sleep(0.3)
        sock.sendall(b"POST /v1/ask HTTP/1.1\r\n")  # then a third request that never finishes its head
        data, elapsed = wait_for_close(sock)
    assert data.count(b"HTTP/1.1 200") == 2, data[:400]
    assert elapsed < BOUND_S + 0.5
