"""Real vLLM on CPU (issue 15): both servers of ``serving/vllm/servers.toml`` started through the launch
scripts (``serving/vllm/harness.py``, the CPU changes in ``serving/vllm/cpu.toml``) on the tiny models of
``finetune/tiny.py`` — the random base with the intent / nl2sql / keywords LoRA adapters that
``finetune.train`` + ``finetune.export`` made, the answer model with prefix caching, a draft model and the
hermes tool-call parser — and the agent answering through them in LLM mode.

Slow (servers take 1-2.5 minutes to start on 2 cores): marked ``vllm_cpu``, left out of the default run,
run by ``scripts/ci_stage_vllm.sh`` (``pytest -m vllm_cpu``). Without the vLLM venv (.venv-vllm,
``scripts/vllm_cpu_env.sh``) the tests skip with the reason, and fail in CI.

What each server did is read from vLLM itself: ``/metrics`` (requests, prefix-cache hits, speculative
acceptance, time to first token) and its request log (which adapter each request addressed). The figures
go to ``figures.json`` in the log directory (``NIANBAO_VLLM_LOGS``; the CI stage prints it).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from finetune import tiny
from knowledge.configuration import LLMSettings
from serving.vllm import harness
from serving.vllm import metrics as vllm_metrics

pytestmark = pytest.mark.vllm_cpu

# The questions the tiny intent adapter was trained to label (finetune/tiny.py INTENT_LABELS).
RANK_QUESTION, COUNT_QUESTION = tiny.RANK_QUESTION, tiny.COUNT_QUESTION  # statistics a template answers
COMPOUND_QUESTION = tiny.COMPOUND_QUESTION
UNCOVERED_STATISTIC = tiny.UNCOVERED_STATISTIC  # no template: the nl2sql adapter writes its SQL
FIGURES: dict = {}


def _require_vllm_venv() -> None:
    """Skip with the reason on a developer's machine, fail in CI (whose vLLM stage creates the venv)."""
    from optional import in_ci

    if harness.vllm_python() is None:
        reason = f"no vLLM in {harness.DEFAULT_VENV} (scripts/vllm_cpu_env.sh creates it, about 3-5 minutes)"
        if in_ci():
            pytest.fail(f"the CI vLLM stage creates the venv first: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory) -> Path:
    path = Path(os.environ.get("NIANBAO_VLLM_LOGS") or tmp_path_factory.mktemp("vllm-logs"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    _require_vllm_venv()
    from optional import require_module

    require_module("peft", "finetune")  # the adapters are trained here when not built beforehand
    root = Path(os.environ.get("NIANBAO_VLLM_TINY") or tmp_path_factory.mktemp("tiny-vllm"))
    started = time.perf_counter()
    FIGURES["tiny_models"] = tiny.build(root)
    FIGURES["tiny_models_ready_s"] = round(time.perf_counter() - started, 1)
    return root


@pytest.fixture(scope="module")
def vllm(tiny_models, log_dir):
    started = time.perf_counter()
    with harness.running(tiny_models, log_dir) as servers:
        FIGURES["startup_s"] = {name: round(s.ready_s, 1) for name, s in servers.items()}
        FIGURES["both_ready_s"] = round(time.perf_counter() - started, 1)
        since_start = {name: vllm_metrics.fetch(s.metrics_url) for name, s in servers.items()}
        yield servers
        FIGURES["peak_rss_gib"] = {name: round(s.peak_rss / 2**30, 2) for name, s in servers.items()}
        FIGURES["vllm_over_the_module"] = {
            name: vllm_metrics.summary(vllm_metrics.delta(since_start[name], vllm_metrics.fetch(s.metrics_url)))
            for name, s in servers.items()}
        FIGURES["requests_by_model"] = {name: dict(Counter(s.requests())) for name, s in servers.items()}
    (log_dir / "figures.json").write_text(json.dumps(FIGURES, ensure_ascii=False, indent=2, default=str))


@pytest.fixture
def llm_settings(reports_settings, vllm):
    llm = LLMSettings(base_url=vllm["answer"].base_url, adapters_base_url=vllm["base"].base_url, max_retries=0)
    return reports_settings.model_copy(update={"llm": llm})


class Window:
    """What each server saw between entering and leaving: its request log lines and its metrics."""

    def __init__(self, servers):
        self.servers = servers

    def __enter__(self):
        self.offsets = {n: s.log_size() for n, s in self.servers.items()}
        self.before = {n: vllm_metrics.fetch(s.metrics_url) for n, s in self.servers.items()}
        return self

    def __exit__(self, *exc):
        self.requests = {n: Counter(s.requests(self.offsets[n])) for n, s in self.servers.items()}
        self.figures = {n: vllm_metrics.summary(vllm_metrics.delta(self.before[n], vllm_metrics.fetch(s.metrics_url)))
                        for n, s in self.servers.items()}


def _events(question: str, settings) -> list[dict]:
    from llm_support import run

    from agent.service import ask_astream

    async def collect():
        return [event async for event in ask_astream(question, settings=settings)]

    return run(collect())


def _template_answer(question: str, settings) -> str:
    """The deterministic path's answer to ``question`` (no LLM endpoint)."""
    from agent.service import ask

    return ask(question, settings=settings.model_copy(update={"llm": LLMSettings()}))["answer"]


def test_both_servers_start_from_servers_toml_with_the_exported_adapters(vllm, tiny_models):
    base, answer = vllm["base"], vllm["answer"]
    assert set(base.models()) == {"qwen2.5-7b-instruct", "intent", "nl2sql", "keywords"}
    assert answer.models() == [LLMSettings().answer_model]
    # The production flags arrived (vLLM prints the arguments it was given), the CPU changes too.
    base_log, answer_log = base.log(), answer.log()
    assert "'max_lora_rank': 64" in base_log and "'max_loras': 3" in base_log
    assert f"path='{(tiny_models / 'adapters' / 'nl2sql').resolve()}'" in base_log  # finetune.export's layout
    assert "'enable_prefix_caching': True" in answer_log and "'tool_call_parser': 'hermes'" in answer_log
    assert "'num_speculative_tokens': 4" in answer_log and "'stream_interval': 4" in answer_log
    assert "'quantization'" not in answer_log.split("non-default args:", 1)[1].split("\n", 1)[0]


def test_each_adapter_answers_under_its_own_name(llm_settings, vllm):
    from llm_support import run

    from graph import llm, prompts

    async def ask_each():
        return {role: await llm.acomplete(llm_settings, role, prompts.adapter_messages(role, RANK_QUESTION))
                for role in ("intent", "nl2sql", "keywords")}

    with Window(vllm) as window:
        started = time.perf_counter()
        replies = run(ask_each())
        FIGURES["three_adapter_calls_s"] = round(time.perf_counter() - started, 2)
    assert all(replies.values()), replies
    assert window.requests["base"] == {"intent": 1, "nl2sql": 1, "keywords": 1}
    assert window.figures["base"]["requests"] == 3 and not window.requests["answer"]


def test_the_agent_streams_from_vllm_and_a_made_up_figure_is_withheld(llm_settings, vllm):
    with Window(vllm) as window:
        started = time.perf_counter()
        events = _events(RANK_QUESTION, llm_settings)
        FIGURES["turn_s"] = round(time.perf_counter() - started, 2)
    result = events[-1]["result"]
    tokens = [e["text"] for e in events if e["type"] == "token"]
    # The answer model's first sentence (no figure) streamed to ask_astream as vLLM produced it; its
    # second states a figure no tool produced: withdrawn (reset), and the template answers instead.
    assert tokens[0] == tiny.OPENING
    assert [e["type"] for e in events].count("reset") == 1
    assert tiny.MADE_UP_FIGURE.split(".")[0] not in "".join(tokens[1:])
    assert result["mode"] == "llm"
    assert result["answer"] == _template_answer(RANK_QUESTION, llm_settings) == tokens[-1]
    assert "did not produce" in result["fallback_reason"]
    assert tiny.MADE_UP_FIGURE.split(".")[0] in result["fallback_reason"]
    # Seen by vLLM: the intent adapter on the base server, the answer model on the other.
    assert window.requests["base"]["intent"] >= 1
    assert window.requests["answer"]["nianbao-answer"] >= 1
    assert window.figures["answer"]["requests"] >= 1


def test_the_answer_server_renders_the_agents_plan_prompt_as_the_tiny_model_learnt_it(vllm, tiny_models):
    """vLLM applies the chat template to the agent's system prompt, question and tools (as its request
    model dumps them): token for token the prompt finetune.tiny trained the plan behaviour on. A
    difference (a tool field, a whitespace) would leave the tool-calling check to the model's luck."""
    import urllib.request

    from transformers import AutoTokenizer

    from graph import prompts

    messages = [{"role": "system", "content": prompts.AGENT_SYSTEM}, {"role": "user", "content": COMPOUND_QUESTION}]
    tools = tiny.agent_tools()
    body = {"model": LLMSettings().answer_model, "messages": messages, "tools": tools, "add_generation_prompt": True}
    request = urllib.request.Request(vllm["answer"].url + "/tokenize", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        served = json.loads(reply.read())["tokens"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_models / "models" / tiny.ANSWER)
    prompt = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
    learnt = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert served == learnt, tokenizer.decode(served)


def test_the_tool_calling_node_round_trips_a_tool_call(llm_settings, vllm):
    with Window(vllm) as window:
        events = _events(COMPOUND_QUESTION, llm_settings)
    steps = [e["node"] for e in events if e["type"] == "step"]
    # agent: vLLM's hermes parser turned the model's <tool_call> into tool_calls; tools: answer_subquestion
    # ran the single-question path; agent again: the tool result went back through the chat template.
    assert steps[:4] == ["understand", "agent", "tools", "agent"], steps
    result = events[-1]["result"]
    # The model's reply to the tool results states a made-up figure: the deterministic split answers.
    assert steps[-1] == "compound"
    assert "did not produce" in result["fallback_reason"]
    assert window.requests["answer"]["nianbao-answer"] >= 3  # plan, the sub-question's answer, the reply


def test_the_nl2sql_adapter_writes_the_sql_of_a_statistic_no_template_covers(llm_settings, vllm):
    with Window(vllm) as window:
        result = _events(UNCOVERED_STATISTIC, llm_settings)[-1]["result"]
    # The intent adapter's 统计题 (the rules say 财务报表) and no template: the nl2sql adapter is asked, and
    # its reply (noise: a dozen LoRA steps) goes through the SQL guard as the statement of the turn.
    assert window.requests["base"] == {"intent": 1, "nl2sql": 1}
    assert result["intent"] == "统计题" and result["mode"] == "llm" and result["sql"]


def test_the_cli_chat_streams_from_vllm(reports_settings, vllm, monkeypatch):
    from typer.testing import CliRunner

    from agent.cli import app
    from knowledge import configuration

    monkeypatch.setenv("NIANBAO_LLM__BASE_URL", vllm["answer"].base_url)
    monkeypatch.setenv("NIANBAO_LLM__ADAPTERS_BASE_URL", vllm["base"].base_url)
    configuration.get_settings.cache_clear()
    result = CliRunner().invoke(app, ["chat"], input=RANK_QUESTION + "\n\n")
    assert result.exit_code == 0, result.output
    # Streamed, withdrawn, then the template answer.
    assert tiny.OPENING in result.output and "（以下为确定性答案）" in result.output
    assert _template_answer(RANK_QUESTION, reports_settings) in result.output


def test_prefix_cache_and_speculative_decoding_show_in_vllm_metrics(llm_settings, vllm):
    with Window(vllm) as window:
        for _ in range(2):
            _events(RANK_QUESTION, llm_settings)
    answer = window.figures["answer"]
    FIGURES["two_turns_answer_server"] = answer
    # The second turn's prompts repeat the first's system prompt: cached blocks are hit.
    assert answer["prefix_cache"]["hit_tokens"] > 0 and 0 < answer["prefix_cache"]["hit_rate"] <= 1
    spec = answer["spec_decode"]
    assert spec["drafts"] > 0 and 0 < spec["accepted_tokens"] <= spec["draft_tokens"]
    assert answer["ttft_s"]["count"] == answer["requests"] >= 2


def test_bench_load_against_the_cpu_servers_reports_vllm_figures(reports_settings, vllm, monkeypatch):
    from rich.console import Console

    from knowledge import configuration
    from serving.api import create_app
    from serving.inprocess import run_in_thread
    from serving.loadtest import LoadConfig, run, table
    from serving.server import uvicorn_options
    from serving.settings import ServingSettings

    # `nianbao bench load --url` finds the vLLM servers from the configured LLM endpoints.
    monkeypatch.setenv("NIANBAO_LLM__BASE_URL", vllm["answer"].base_url)
    monkeypatch.setenv("NIANBAO_LLM__ADAPTERS_BASE_URL", vllm["base"].base_url)
    configuration.get_settings.cache_clear()
    settings = configuration.get_settings()
    serving = ServingSettings(rate_per_s=0, warm_up=False)
    with run_in_thread(create_app(settings, serving=serving), options=uvicorn_options(serving)) as api:
        figures = run(LoadConfig(url=api, conversations=2, turns=2, ramp_s=0, think_s=0,
                                 questions=[RANK_QUESTION, COUNT_QUESTION]))
    assert figures["errors"] == 0 and figures["ok"] == 4
    assert set(figures["vllm"]) == {"answer", "adapters"}
    answer, adapters = figures["vllm"]["answer"], figures["vllm"]["adapters"]
    assert answer["requests"] >= 4 and adapters["requests"] >= 4  # one answer and one intent call per turn
    assert answer["prefix_cache"]["hit_rate"] > 0 and answer["spec_decode"]["acceptance_rate"] is not None
    assert answer["ttft_s"]["p50"] is not None and figures["ttft_p50_s"] is not None
    console = Console(record=True, width=140)
    console.print(table(figures))
    text = console.export_text()
    assert "prefix-cache hit rate" in text and "speculative acceptance" in text
    FIGURES["bench_load"] = {"table": text, "vllm": figures["vllm"], "ttft_p50_s": figures["ttft_p50_s"],
                             "total_p50_s": figures["total_p50_s"]}
