"""Issue 6: the LLM path against the local OpenAI-compatible stub, and graceful degradation."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from agent.service import ask, ask_stream
from knowledge.configuration import LLMSettings
from serving.testing.stub_llm import Reply, StubLLM, last_user_text

DRAFT = re.compile(r"参考答案（模板生成，可改写措辞，不可改动数字）：(.*?)\n回答：", re.S)


def rewording(request: dict):
    """The answer model rewords the template draft it was given (numbers unchanged)."""
    if request["model"] != "nianbao-answer":
        return None
    text = last_user_text(request["messages"])
    match = DRAFT.search(text)
    if match:
        return "根据年报数据，" + match.group(1).strip()
    if "段落" in text:
        return "根据年报段落，公司积极履行社会责任（第1页）。公司开展扶贫与抗疫捐赠。公司关爱困难员工。"
    return None


@pytest.fixture
def stub():
    with StubLLM(replies=rewording, strict_models=False).serve() as server:
        yield server


def llm_settings(settings, stub: StubLLM, **overrides):
    llm = LLMSettings(base_url=stub.base_url, adapters_base_url=stub.base_url, timeout_s=5, max_retries=0, **overrides)
    return settings.model_copy(update={"llm": llm})


def test_answer_model_phrases_a_verified_answer(reports_settings, stub):
    settings = llm_settings(reports_settings, stub)
    result = ask("四方科技2019年的货币资金是多少元？", settings=settings)
    assert result["mode"] == "llm"
    assert result["answer"].startswith("根据年报数据，")
    assert "905402299.44" in result["answer"].replace(",", "")
    assert result["fallback_reason"] is None
    assert "nianbao-answer" in stub.models_requested


def test_adapters_are_addressed_by_their_configured_names(reports_settings, stub):
    settings = llm_settings(reports_settings, stub, intent_model="my-intent-lora")
    result = ask("四方科技2019年的货币资金是多少元？", settings=settings)
    assert "my-intent-lora" in stub.models_requested
    # Every request of the turn carries the turn's id, so model-server logs join with ours.
    assert [r["turn"] for r in stub.requests] == [result["turn_id"]] * len(stub.requests)
    second = ask("那2018年呢？", settings=settings)
    assert second["turn_id"] != result["turn_id"] and stub.requests[-1]["turn"] == second["turn_id"]


def test_a_number_the_tools_did_not_produce_is_not_shown(reports_settings, stub):
    stub.replies = lambda r: (
        "根据年报数据。四方科技2019年的货币资金是123456789.00元。" if r["model"] == "nianbao-answer" else None
    )
    events = list(ask_stream("四方科技2019年的货币资金是多少元？", settings=llm_settings(reports_settings, stub)))
    streamed = "".join(e["text"] for e in events if e["type"] == "token")
    assert "123456789" not in streamed  # never shown, not even while streaming
    assert any(e["type"] == "reset" for e in events)  # the sentence already shown is withdrawn
    result = events[-1]["result"]
    assert "123456789" not in result["answer"]
    assert "905402299.44" in result["answer"].replace(",", "")
    assert "did not produce" in result["fallback_reason"]


@pytest.mark.parametrize("failure", ["500", "close"])
def test_a_failing_endpoint_degrades_to_the_deterministic_answer(reports_settings, stub, failure):
    stub.failure = failure
    result = ask("四方科技2019年的货币资金是多少元？", settings=llm_settings(reports_settings, stub))
    assert "905402299.44" in result["answer"].replace(",", "")
    assert result["fallback_reason"]


def test_killing_the_stub_mid_conversation_degrades_without_error(reports_settings):
    with StubLLM(replies=rewording, strict_models=False).serve() as server:
        settings = llm_settings(reports_settings, server)
        first = ask("四方科技2019年的货币资金是多少元？", thread_id="kill", settings=settings)
        assert first["answer"].startswith("根据年报数据，")
    # The server is gone now: connection refused.
    second = ask("那2018年呢？", thread_id="kill", settings=settings)
    assert "627041535.44" in second["answer"].replace(",", "")
    assert second["fallback_reason"]


def test_open_answers_stream_token_by_token(reports_settings, stub):
    settings = llm_settings(reports_settings, stub)
    events = list(ask_stream("简要介绍金宇生物2020年的社会责任工作情况", settings=settings))
    tokens = [e["text"] for e in events if e["type"] == "token"]
    assert len(tokens) == 3  # released sentence by sentence as the stub streams
    final = events[-1]["result"]
    assert "".join(tokens) == final["answer"]
    assert final["fallback_reason"] is None
    assert final["citations"]


def test_streaming_reaches_the_cli_chat(reports_settings, stub, monkeypatch):
    monkeypatch.setenv("NIANBAO_LLM__BASE_URL", stub.base_url)
    monkeypatch.setenv("NIANBAO_LLM__MAX_RETRIES", "0")
    from agent.cli import app
    from knowledge import configuration

    configuration.get_settings.cache_clear()
    result = CliRunner().invoke(app, ["chat"], input="简要介绍金宇生物2020年的社会责任工作情况\n\n")
    assert result.exit_code == 0, result.output
    assert "根据年报段落" in result.output


def test_tool_calling_model_answers_a_compound_question(reports_settings, stub):
    calls = {"n": 0}

    def planner(request):
        if request["model"] != "nianbao-answer" or not request.get("tools"):
            return rewording(request)
        calls["n"] += 1
        tool_results = [m for m in request["messages"] if m.get("role") == "tool"]
        if not tool_results:
            return Reply(tool_calls=[
                {"name": "answer_subquestion", "arguments": {"question": "四方科技2019年的货币资金是多少元？"}},
                {"name": "answer_subquestion", "arguments": {"question": "四方科技2018年的货币资金是多少元？"}},
            ])
        return "四方科技2019年货币资金905402299.44元，2018年627041535.44元，较上年增加。"

    stub.replies = planner
    result = ask("比较四方科技2019年和2018年的货币资金，并说明变化原因", settings=llm_settings(reports_settings, stub))
    assert calls["n"] == 2  # plan with tools, then answer from their results
    assert result["answer"].startswith("四方科技2019年货币资金905402299.44元")
    assert result["fallback_reason"] is None


def test_compound_question_is_split_on_the_deterministic_path(reports_settings):
    result = ask("比较四方科技2019年和2018年的货币资金，并说明变化原因", settings=reports_settings)
    text = result["answer"].replace(",", "")
    assert "905402299.44" in text and "627041535.44" in text
    assert result["citations"]  # the reason part cites report pages
