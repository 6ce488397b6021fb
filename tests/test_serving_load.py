"""The load benchmark's arithmetic and its streaming client, without a full run."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("fastapi")

from serving.loadtest import LoadConfig, Turn, summarize, table  # noqa: E402


def records(n_turns: int, *, stream_first: float, intent: float, decode: float):
    out = []
    for _ in range(n_turns):
        out.append({"model": "intent", "slept_before_first_token_s": intent, "slept_total_s": intent})
        out.append({"model": "nianbao-answer", "slept_before_first_token_s": stream_first,
                    "slept_total_s": stream_first + decode})
    return out


def test_overhead_subtracts_the_stubs_time_before_the_first_token():
    turns = [Turn(0, i, True, ttft_s=1.0 + 0.01 * i, total_s=3.0 + 0.01 * i, tokens=10) for i in range(20)]
    figures = summarize(LoadConfig(conversations=20, turns=1), turns, 10.0,
                        records(20, stream_first=0.3, intent=0.6, decode=2.0))
    assert figures["stub"]["time_before_first_token_s"] == pytest.approx(0.9)
    assert figures["stub"]["time_total_s"] == pytest.approx(2.9)
    assert figures["overhead_ttft_p50_s"] == pytest.approx(0.1 + 0.095, abs=1e-6)
    assert figures["overhead_total_p95_s"] == pytest.approx(0.1 + 0.1805, abs=1e-6)
    assert figures["stub"]["calls_per_turn"] == {"intent": 1.0, "nianbao-answer": 1.0}
    assert figures["errors"] == 0 and figures["throughput_turns_per_s"] == 2.0


def test_each_turn_is_charged_its_own_stub_time_when_its_requests_carry_its_id():
    # Turn "b"'s stub was 0.5 s slower; its overhead is the same 0.1 s as turn "a"'s, not 0.35 s.
    turns = [Turn(0, 0, True, ttft_s=1.0, total_s=3.0, tokens=10, turn_id="a"),
             Turn(1, 0, True, ttft_s=1.5, total_s=3.5, tokens=10, turn_id="b")]
    recs = records(2, stream_first=0.3, intent=0.6, decode=2.0)
    recs[0]["turn"] = recs[1]["turn"] = "a"
    recs[2]["turn"] = recs[3]["turn"] = "b"
    recs[2]["slept_before_first_token_s"] = recs[2]["slept_total_s"] = 1.1
    figures = summarize(LoadConfig(conversations=2, turns=1), turns, 4.0, recs)
    assert figures["stub"]["matched"] == "per turn"
    assert figures["overhead_ttft_p50_s"] == pytest.approx(0.1) and figures["overhead_ttft_p95_s"] == pytest.approx(0.1)
    assert figures["overhead_total_p95_s"] == pytest.approx(0.1)
    # Without the ids every turn is charged the average, and the slow stub shows up as overhead.
    for t in turns:
        t.turn_id = None
    figures = summarize(LoadConfig(conversations=2, turns=1), turns, 4.0, recs)
    assert figures["stub"]["matched"] == "average"
    assert figures["overhead_ttft_p95_s"] > 0.3


def test_an_answer_held_back_until_complete_counts_all_stub_time_before_its_first_token():
    turns = [Turn(0, i, True, ttft_s=3.0, total_s=3.0, tokens=1) for i in range(4)]
    figures = summarize(LoadConfig(), turns, 4.0, records(4, stream_first=0.3, intent=0.6, decode=2.0))
    assert figures["stub"]["answer_streamed"] is False
    assert figures["overhead_ttft_p50_s"] == pytest.approx(0.1)


def test_errors_are_counted_and_sampled_and_the_table_renders():
    turns = [Turn(0, 0, True, 1.0, 2.0, 5), Turn(1, 0, False, error="HTTP 429: rate_limited")]
    figures = summarize(LoadConfig(conversations=2, turns=1), turns, 2.0, [])
    assert figures["errors"] == 1 and figures["error_samples"] == ["HTTP 429: rate_limited"]
    assert figures["stub"] is None
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(table(figures))
    assert "time to first token" in console.export_text()


def test_sse_client_reads_a_streamed_turn_over_keep_alive(settings):
    from serving.api import create_app
    from serving.inprocess import run_in_thread
    from serving.settings import ServingSettings
    from serving.sse_client import SSEConnection
    from serving.testing.fake_agent import FakeAgent

    agent = FakeAgent()
    app = create_app(settings, ask_stream=agent.ask_stream, serving=ServingSettings(api_keys=["k"]))

    async def two_turns(url):
        conn = SSEConnection(url, {"Authorization": "Bearer k"})
        try:
            first = await conn.ask("四方科技2019年毛利率", "sse-1")
            second = await conn.ask("那2018年呢？", "sse-1")
            bad = await SSEConnection(url).ask("x", "sse-2")
        finally:
            await conn.close()
        return first, second, bad

    with run_in_thread(app) as url:
        first, second, bad = asyncio.run(two_turns(url))
    assert first["status"] == 200 and first["final"]["answer"] == "四方科技2019年毛利率为27.31%。"
    assert first["tokens"] >= 1 and 0 < first["ttft_s"] <= first["total_s"]
    assert "2018" in second["final"]["answer"]
    assert bad["status"] == 401 and "missing_api_key" in bad["error"]
