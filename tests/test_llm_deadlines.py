"""Deadlines per LLM call and per turn, against endpoints that never answer or never finish.

``llm.timeout_s`` bounds one socket wait only: an endpoint that never answers costs every retry its full
timeout, and one that sends a little now and then is never timed out at all. Here the socket timeout is
longer than the deadlines, so only the deadlines can end the calls (except where retries are the point).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from llm_support import run  # noqa: E402

from agent.service import ask
from graph import llm, nodes
from knowledge.configuration import LLMSettings, Settings
from knowledge.store import store_for
from understanding.question import understand

DRIP_S = 0.3  # the dripping endpoint's pause between pieces
LIFETIME_S = 60.0  # a bad endpoint stops by itself after this, should a test leave it running
SSE_PIECE = ("data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "滴"}}]}) + "\n\n").encode()


class BadEndpoint:
    """A loopback HTTP server that reads a request, then never answers (``hang``), or answers 200 with a
    body that never ends: one SSE chunk (``sse``) or one byte that ends no line (``byte``) every
    ``DRIP_S``. Stops with the context, or by itself after ``LIFETIME_S``."""

    def __init__(self, mode: str) -> None:
        assert mode in ("hang", "sse", "byte")
        self.mode = mode
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.mode != "hang":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            while not self._stop.is_set():
                if self.mode != "hang":
                    piece = SSE_PIECE if self.mode == "sse" else b":"
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                await _wait(self._stop, DRIP_S)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: what it should do
        finally:
            writer.close()

    async def _serve(self, ready: threading.Event) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await _wait(self._stop, LIFETIME_S)
            self._stop.set()

    def __enter__(self) -> str:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(ready),), daemon=True)
        self._thread.start()
        assert ready.wait(5), "the bad endpoint did not start"
        return f"http://127.0.0.1:{self._port}/v1"

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


def on(base_url: str, settings: Settings | None = None, **llm_settings) -> Settings:
    """Settings whose every role is served at ``base_url``; socket timeouts longer than the deadlines."""
    llm_config = LLMSettings(base_url=base_url, adapters_base_url=base_url,
                             **{"timeout_s": 10, "max_retries": 2, **llm_settings})
    return (settings or Settings()).model_copy(update={"llm": llm_config})




def timed(fn):
    """(what ``fn()`` raised, seconds it took)."""
    start = time.perf_counter()
    with pytest.raises(llm.LLMUnavailable) as caught:
        fn()
    return caught.value, time.perf_counter() - start


# (a) A hung endpoint: the turn ends by its deadline, answered on the deterministic path ------------------
def test_a_hung_endpoint_is_answered_deterministically_within_the_turn_deadline(reports_settings):
    with BadEndpoint("hang") as base_url:
        settings = on(base_url, reports_settings, timeout_s=2, call_deadline_s=1.5, turn_deadline_s=2.5)
        start = time.perf_counter()
        result = ask("四方科技2019年的货币资金是多少元？", settings=settings)
        elapsed = time.perf_counter() - start
    assert elapsed < 2.5 + 2
    assert result["mode"] == "llm"
    assert "905402299.44" in result["answer"].replace(",", "")
    # The intent call spent its 1.5 s; the answer call had only what was left of the turn.
    assert result["fallback_reason"].startswith("answer endpoint failed: turn deadline (2.5 s) passed")


def test_a_compound_question_on_a_hung_endpoint_ends_within_the_turn_deadline(reports_settings):
    # The tool-calling model (langchain ChatOpenAI) plans compound questions: it too is cut at the deadline,
    # and the deterministic split answers both parts.
    question = "比较四方科技2019年和2018年的货币资金，并说明变化原因"
    ask(question, settings=reports_settings)  # builds the report's search index: one-off, not measured
    with BadEndpoint("hang") as base_url:
        settings = on(base_url, reports_settings, timeout_s=2, call_deadline_s=1, turn_deadline_s=2)
        start = time.perf_counter()
        result = ask(question, settings=settings)
        elapsed = time.perf_counter() - start
    assert elapsed < 2 + 2
    text = result["answer"].replace(",", "")
    assert "905402299.44" in text and "627041535.44" in text
    assert result["fallback_reason"].startswith("answer model (tools): answer endpoint failed: ")
    assert "deadline" in result["fallback_reason"]


def test_the_calls_of_a_turn_share_its_budget():
    async def three_calls(settings):
        outcomes = []
        with llm.turn_budget(settings.llm):
            for _ in range(3):
                start = time.perf_counter()
                try:
                    await llm.acomplete(settings, "intent", "x")
                except llm.LLMDeadline as exc:
                    outcomes.append((str(exc), time.perf_counter() - start))
        return outcomes

    with BadEndpoint("hang") as base_url:
        (first, t1), (second, t2), (third, t3) = run(three_calls(on(base_url, call_deadline_s=1.0, turn_deadline_s=1.5)))
    assert "call deadline (1 s) passed" in first and 0.9 < t1 < 1.4
    assert "turn deadline (1.5 s) passed" in second and t2 < 0.9  # what was left of the turn
    assert "turn deadline (1.5 s) spent before the call" in third and t3 < 0.1  # fails at once


def test_the_intent_and_nl2sql_adapters_fall_back_naming_the_deadline(reports_settings):
    # No server at all: with the turn's budget spent, no request is even attempted.
    settings = on("http://127.0.0.1:9/v1", reports_settings, turn_deadline_s=0.05)
    store = store_for(settings)
    config = {"configurable": {"settings": settings, "store": store, "tools_inline": True}}
    average = understand("2020年营业收入的平均值是多少？", store)
    average.statistic = {"kind": "other"}  # what the templates don't cover: the NL2SQL adapter's

    async def in_a_spent_turn():
        with llm.turn_budget(settings.llm):
            await asyncio.sleep(0.1)
            understood = await nodes.understand({"question": "四方科技2019年的货币资金是多少元？"}, config)
            statistic = await nodes.statistic({"understanding": average.to_context()}, config)
        return understood, statistic

    understood, statistic = run(in_a_spent_turn())
    assert understood["intent"] == "财务报表" and understood["understanding"]["intent_source"] == "rules"
    assert understood["fallback_reason"] == "intent endpoint failed: turn deadline (0.05 s) spent before the call"
    assert statistic["result"]["kind"] == "refusal"
    assert statistic["fallback_reason"] == "nl2sql endpoint failed: turn deadline (0.05 s) spent before the call"


# (b) A dripping endpoint: the stream is cut at the call deadline, blocking and async -------------------
def _read_stream_blocking(settings: Settings, pieces: list[str]) -> None:
    for piece in llm.stream(settings, "answer", "x"):  # a loop, so what came before the cut is kept
        pieces.append(piece)  # noqa: PERF402


def _read_stream_async(settings: Settings, pieces: list[str]) -> None:
    async def read():
        async for piece in llm.astream(settings, "answer", "x"):
            pieces.append(piece)

    run(read())


@pytest.mark.parametrize("drip", ["sse", "byte"])
@pytest.mark.parametrize("read", [_read_stream_blocking, _read_stream_async], ids=["httpx", "aiohttp"])
def test_a_dripping_stream_is_cut_at_the_call_deadline(drip, read):
    pieces: list[str] = []
    with BadEndpoint(drip) as base_url:
        error, elapsed = timed(lambda: read(on(base_url, call_deadline_s=1.0), pieces))
    assert isinstance(error, llm.LLMDeadline) and "call deadline (1 s) passed" in str(error)
    assert 0.95 < elapsed < 1.0 + 0.6
    if drip == "sse":  # the stream was flowing all along, a piece every DRIP_S
        assert 2 <= len(pieces) <= 1.0 / DRIP_S + 1 and set(pieces) == {"滴"}
    else:
        assert pieces == []


@pytest.mark.parametrize("flavour", ["httpx", "aiohttp"])
def test_a_completion_whose_body_never_ends_is_cut_at_the_call_deadline(flavour):
    with BadEndpoint("byte") as base_url:
        settings = on(base_url, call_deadline_s=1.0)
        call = (lambda: llm.complete(settings, "intent", "x")) if flavour == "httpx" else (
            lambda: run(llm.acomplete(settings, "intent", "x")))
        error, elapsed = timed(call)
    assert isinstance(error, llm.LLMDeadline) and "intent endpoint failed: call deadline" in str(error)
    assert 0.95 < elapsed < 1.6


# (c) Retries stop at the deadline ------------------------------------------------------------------------
@pytest.mark.parametrize("flavour", ["httpx", "aiohttp"])
def test_retries_against_a_hung_endpoint_stop_at_the_call_deadline(flavour):
    # Each try times out after 0.4 s; ten retries with their backoff would take about a minute.
    hung = BadEndpoint("hang")
    with hung as base_url:
        settings = on(base_url, timeout_s=0.4, max_retries=10, call_deadline_s=1.5)
        call = (lambda: llm.complete(settings, "intent", "x")) if flavour == "httpx" else (
            lambda: run(llm.acomplete(settings, "intent", "x")))
        error, elapsed = timed(call)
    assert isinstance(error, llm.LLMDeadline) and "call deadline (1.5 s) passed" in str(error)
    assert elapsed < 1.5 + 0.3
    assert 2 <= hung.connections < 11  # it did retry, and stopped
