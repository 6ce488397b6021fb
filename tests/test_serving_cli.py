"""``serve`` and ``bench load`` registered on a small Typer app, as agent.cli does."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

import typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from serving import cli  # noqa: E402


@pytest.fixture
def app():
    app = typer.Typer()
    bench = typer.Typer()
    app.add_typer(bench, name="bench")
    cli.register(app, bench)
    return app


def test_serve_runs_uvicorn_with_the_app_factory(app, monkeypatch):
    calls = {}
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.update(target=target, **kw))
    result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert calls["target"] == "serving.api:app_factory" and calls["factory"] is True
    assert (calls["host"], calls["port"]) == ("127.0.0.1", 8123)


def test_serve_defaults_come_from_the_environment(app, monkeypatch):
    calls = {}
    import uvicorn

    monkeypatch.setenv("NIANBAO_SERVE_PORT", "9001")
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.update(kw))
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert calls["port"] == 9001


def test_bench_load_against_the_stub_prints_the_table(app):
    """A small run end to end: stub LLM process, API in-process, the LLM-passthrough agent."""
    result = CliRunner().invoke(app, [
        "bench", "load", "-n", "4", "--turns", "2", "--ramp-s", "0", "--think-s", "0", "--inprocess", "--agent", "serving.testing.passthrough_agent",
        "--ttft-ms", "100", "--tokens-per-s", "200", "--json"])
    assert result.exit_code == 0, result.output
    out = result.output
    for row in ("time to first token", "total latency", "service overhead, first token", "throughput"):
        assert row in out
    figures = json.loads(out[out.index("{"):])
    assert figures["ok"] == 8 and figures["errors"] == 0
    assert figures["stub"]["models"] == ["intent", "nianbao-answer"]  # adapters addressed by name
    assert figures["stub"]["requests_per_turn"] == 2
    # The stub slept 100 ms (intent) + decode + 100 ms (answer) before the first token; measured is more.
    assert figures["ttft_p50_s"] >= figures["stub"]["time_before_first_token_s"]
    assert 0 <= figures["overhead_ttft_p50_s"] < 1.0


def test_bench_load_rejects_an_unknown_llm(app):
    result = CliRunner().invoke(app, ["bench", "load", "--llm", "gpt"])
    assert result.exit_code != 0
