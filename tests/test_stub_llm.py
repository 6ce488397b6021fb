"""The stub OpenAI-compatible server, exercised through the real langchain_openai client."""

from __future__ import annotations

import time

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from langchain_core.messages import HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

from serving.testing.stub_llm import Reply, StubLLM, tokenize  # noqa: E402


def client(stub: StubLLM, model: str, **kw) -> ChatOpenAI:
    return ChatOpenAI(base_url=stub.base_url, api_key="EMPTY", model=model, max_retries=0, timeout=kw.pop("timeout", 5), **kw)


REPLIES = {"intent": '{"intent": "lookup"}', "毛利率": "四方科技2019年毛利率为27.31%。"}


@pytest.fixture(scope="module")
def stub():
    with StubLLM(replies=dict(REPLIES)).serve() as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh(stub):
    """One server for the module; every test starts from the same script and no latency or failure."""
    stub.reset()
    stub.replies = dict(REPLIES)
    stub.failure = None
    stub.ttft_s = stub.tokens_per_s = 0.0
    stub.tokens_per_chunk = 1
    yield


def test_models_endpoint_lists_every_name(stub):
    data = httpx.get(f"{stub.base_url}/models").json()["data"]
    assert {m["id"] for m in data} == {"nianbao-answer", "intent", "nl2sql", "keywords"}


def test_invoke_routes_by_model_name_then_prompt_substring(stub):
    assert client(stub, "intent").invoke("四方科技2019年毛利率").content == '{"intent": "lookup"}'
    assert client(stub, "nianbao-answer").invoke("四方科技2019年毛利率是多少").content == "四方科技2019年毛利率为27.31%。"
    assert client(stub, "nl2sql").invoke("无关的问题").content == "好的。"
    assert stub.models_requested == ["intent", "nianbao-answer", "nl2sql"]


def test_unknown_model_is_a_404(stub):
    import openai

    with pytest.raises(openai.NotFoundError):
        client(stub, "gpt-4").invoke("hi")


def test_stream_yields_openai_chunks_that_rejoin_to_the_reply(stub):
    pieces = [c.content for c in client(stub, "nianbao-answer").stream([HumanMessage("毛利率")])]
    assert len([p for p in pieces if p]) == len(tokenize("四方科技2019年毛利率为27.31%。"))
    assert "".join(pieces) == "四方科技2019年毛利率为27.31%。"
    assert stub.requests[-1]["stream"] is True


def test_raw_sse_format_ends_with_done(stub):
    body = {"model": "nianbao-answer", "stream": True, "messages": [{"role": "user", "content": "毛利率"}]}
    lines = [line for line in httpx.post(f"{stub.base_url}/chat/completions", json=body).text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    assert '"finish_reason": "stop"' in lines[-2]


def test_latency_injection_sets_time_to_first_token_and_rate(stub):
    stub.ttft_s, stub.tokens_per_s = 0.3, 100.0
    start = time.perf_counter()
    stream = client(stub, "nianbao-answer").stream("毛利率")
    first = next(c for c in stream if c.content)
    ttft = time.perf_counter() - start
    rest = "".join(c.content for c in stream)
    total = time.perf_counter() - start
    assert 0.3 <= ttft < 1.0  # generous: the machine is shared
    n = len(tokenize(first.content + rest))
    assert total >= 0.3 + (n - 1) / 100.0 * 0.9
    record = stub.requests[-1]
    assert record["requested_sleep_s"] == pytest.approx(0.3 + (n - 1) / 100.0)
    # What it slept is measured: never less than asked, and the extra is the timer's lateness.
    assert 0.3 <= record["slept_before_first_token_s"] < 0.3 + 0.2
    assert record["slept_total_s"] >= record["requested_sleep_s"]


def test_tool_calls_only_when_the_request_offers_the_tool(stub):
    @tool
    def sql_lookup(company: str, year: int) -> str:
        """Look up a value in the wide table."""
        return ""

    stub.replies = lambda req: Reply(tool_calls=[{"name": "sql_lookup", "arguments": {"company": "四方科技", "year": 2019}}])
    bound = client(stub, "nianbao-answer").bind_tools([sql_lookup])
    message = bound.invoke("比较四方科技2019年和2018年的毛利率")
    assert message.tool_calls[0]["name"] == "sql_lookup"
    assert message.tool_calls[0]["args"] == {"company": "四方科技", "year": 2019}
    streamed = None
    for chunk in bound.stream("比较"):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed.tool_calls[0]["args"] == {"company": "四方科技", "year": 2019}
    # Without tools in the request the scripted call is not made up.
    assert client(stub, "nianbao-answer").invoke("比较").tool_calls == []
    assert stub.requests[0]["tools"] == ["sql_lookup"]


def test_injected_500_surfaces_as_a_server_error(stub):
    import openai

    stub.failure = "500"
    with pytest.raises(openai.InternalServerError):
        client(stub, "intent").invoke("x")


def test_injected_hang_trips_the_client_timeout(stub):
    import openai

    stub.failure = lambda req: "hang" if req["model"] == "nl2sql" else None
    start = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        client(stub, "nl2sql", timeout=0.5).invoke("x")
    assert time.perf_counter() - start < 3
    assert client(stub, "intent").invoke("x").content  # the other adapters still answer


@pytest.mark.parametrize("streaming", [True, False])
def test_injected_close_breaks_the_response(stub, streaming):
    stub.failure = "close"
    stub.replies = {"nianbao-answer": "一二三四五六七八九十"}
    model = client(stub, "nianbao-answer")
    with pytest.raises(Exception) as info:
        if streaming:
            list(model.stream("x"))
        else:
            model.invoke("x")
    assert "injected" not in str(info.value)  # a transport error, not a message from the stub
    assert stub.requests[-1]["outcome"] == "close"


def test_command_line_server_runs_as_a_module(tmp_path):
    import subprocess
    import sys

    from serving.inprocess import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "serving.testing.stub_llm", "--port", str(port), "--reply", "你好"])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        model = ChatOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", model="keywords", max_retries=0)
        assert model.invoke("hi").content == "你好"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stream_interval_sends_the_first_token_alone_then_groups(stub):
    stub.tokens_per_chunk = 3
    pieces = [c.content for c in client(stub, "nianbao-answer").stream("毛利率") if c.content]
    tokens = tokenize("四方科技2019年毛利率为27.31%。")
    assert pieces[0] == tokens[0]
    assert [len(tokenize(p)) for p in pieces[1:-1]] == [3] * (len(pieces) - 2)
    assert "".join(pieces) == "".join(tokens)
