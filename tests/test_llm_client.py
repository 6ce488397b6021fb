"""graph.llm's own chat-completions client against the stub: retries, timeouts, failures, both flavours."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")

from llm_support import run  # noqa: E402

from graph import llm  # noqa: E402
from knowledge.configuration import LLMSettings, Settings  # noqa: E402
from serving.testing.stub_llm import StubLLM  # noqa: E402


@pytest.fixture
def stub():
    with StubLLM(replies={"intent": '{"intent": "财务报表"}'}, default_reply="第一句。第二句。").serve() as s:
        yield s


def settings_for(stub, **llm_settings) -> Settings:
    return Settings(llm=LLMSettings(base_url=stub.base_url, **{"timeout_s": 5, "max_retries": 2, **llm_settings}))




def fail_first(n: int, mode: str = "500"):
    """A failure rule: the first ``n`` requests fail with ``mode``, the rest succeed."""
    seen = []

    def rule(_request):
        seen.append(1)
        return mode if len(seen) <= n else None

    return rule


def test_blocking_and_async_calls_return_the_same_text(stub):
    settings = settings_for(stub)
    assert llm.complete(settings, "intent", "x") == '{"intent": "财务报表"}'
    assert "".join(llm.stream(settings, "answer", "x")) == "第一句。第二句。"

    async def both():
        text = await llm.acomplete(settings, "intent", [("system", "s"), ("human", "x")])
        return text, [p async for p in llm.astream(settings, "answer", "x")]

    text, pieces = run(both())
    assert text == '{"intent": "财务报表"}' and "".join(pieces) == "第一句。第二句。" and len(pieces) > 1
    assert [m["role"] for m in stub.requests[2]["messages"]] == ["system", "user"]


def test_a_server_error_is_retried_then_succeeds(stub):
    stub.failure = fail_first(1)
    assert llm.complete(settings_for(stub), "intent", "x") == '{"intent": "财务报表"}'
    assert [r["outcome"] for r in stub.requests] == ["500", "ok"]

    stub.reset()
    stub.failure = fail_first(1)

    async def streamed():
        return "".join([p async for p in llm.astream(settings_for(stub), "answer", "x")])

    assert run(streamed()) == "第一句。第二句。"
    assert [r["outcome"] for r in stub.requests] == ["500", "ok"]


def test_retries_are_bounded_and_the_failure_is_named(stub):
    stub.failure = "500"
    with pytest.raises(llm.LLMUnavailable, match="HTTP 500"):
        llm.complete(settings_for(stub, max_retries=1), "intent", "x")
    assert len(stub.requests) == 2  # the first try and one retry


def test_a_client_error_is_not_retried(stub):
    settings = settings_for(stub, intent_model="no-such-adapter")
    with pytest.raises(llm.LLMUnavailable, match="HTTP 404"):
        run(llm.acomplete(settings, "intent", "x"))
    assert len(stub.requests) == 1


def test_a_hung_endpoint_times_out(stub):
    stub.failure = "hang"
    settings = settings_for(stub, timeout_s=0.5, max_retries=0)
    start = time.perf_counter()
    with pytest.raises(llm.LLMUnavailable, match="intent endpoint failed"):
        run(llm.acomplete(settings, "intent", "x"))
    with pytest.raises(llm.LLMUnavailable):
        llm.complete(settings, "intent", "x")
    assert time.perf_counter() - start < 5


def test_a_stream_cut_midway_raises(stub):
    stub.failure = "close"
    stub.default_reply = "一二三四五六七八九十。" * 20

    async def read():
        return [p async for p in llm.astream(settings_for(stub, max_retries=0), "answer", "x")]

    with pytest.raises(llm.LLMUnavailable):
        run(read())


def test_no_endpoint_is_embedded_mode():
    with pytest.raises(llm.LLMUnavailable, match="no endpoint"):
        llm.complete(Settings(), "intent", "x")
    with pytest.raises(llm.LLMUnavailable, match="no endpoint"):
        run(llm.acomplete(Settings(), "answer", "x"))


# Deadlines (the hung and dripping endpoints are in test_llm_deadlines.py) ---------------------------
def test_the_deadlines_are_settings_with_sane_defaults(monkeypatch):
    assert (LLMSettings().call_deadline_s, LLMSettings().turn_deadline_s) == (20.0, 45.0)
    monkeypatch.setenv("NIANBAO_LLM__CALL_DEADLINE_S", "2.5")
    monkeypatch.setenv("NIANBAO_LLM__TURN_DEADLINE_S", "7")
    assert (Settings().llm.call_deadline_s, Settings().llm.turn_deadline_s) == (2.5, 7.0)
    with pytest.raises(ValueError):
        LLMSettings(call_deadline_s=0)


@pytest.mark.parametrize("flavour", ["httpx", "aiohttp"])
def test_retries_stop_when_the_next_would_outlast_the_call_deadline(stub, flavour):
    # Backoff 0.5 s, then 1 s, 2 s, 4 s: four retries take about 7.5 s; the deadline leaves room for one.
    stub.failure = "500"
    settings = settings_for(stub, max_retries=4, call_deadline_s=1.0)
    start = time.perf_counter()
    with pytest.raises(llm.LLMDeadline, match=r"intent endpoint failed: call deadline \(1 s\) passed; last failure: HTTP 500"):
        if flavour == "httpx":
            llm.complete(settings, "intent", "x")
        else:
            run(llm.acomplete(settings, "intent", "x"))
    assert time.perf_counter() - start < 1.0  # it stopped instead of sleeping into the deadline
    assert len(stub.requests) == 2  # the first try and the one retry that fitted


def test_a_call_in_a_spent_turn_fails_at_once_without_a_request(stub):
    settings = settings_for(stub, turn_deadline_s=0.05)

    async def each_async_call():
        with pytest.raises(llm.LLMDeadline, match="turn deadline"):
            await llm.acomplete(settings, "intent", "x")
        with pytest.raises(llm.LLMDeadline, match="turn deadline"):
            [p async for p in llm.astream(settings, "answer", "x")]
        with pytest.raises(llm.LLMDeadline, match="turn deadline"):
            await llm.ainvoke_with_tools(settings, "answer", [], [("human", "x")])

    with llm.turn_budget(settings.llm):
        time.sleep(0.1)
        start = time.perf_counter()
        with pytest.raises(llm.LLMDeadline, match=r"intent endpoint failed: turn deadline \(0.05 s\) spent before the call"):
            llm.complete(settings, "intent", "x")
        with pytest.raises(llm.LLMDeadline, match="turn deadline"):
            list(llm.stream(settings, "answer", "x"))
        assert time.perf_counter() - start < 0.5
        run(each_async_call())
    assert stub.requests == []
    # The turn is over: its spent budget does not follow later calls.
    assert llm.turn_deadline.get() is None
    assert llm.complete(settings, "intent", "x") == '{"intent": "财务报表"}'
