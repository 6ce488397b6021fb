"""``nianbao bench load``: N concurrent multi-turn conversations against the API, streamed.

Each conversation is one thread; its turns go one after another (as an analyst's would), all
conversations at once. Per turn it measures the time to the first answer token and to the final event
on ``POST /v1/ask?stream=true``. With the stub LLM it also reads back how long the stub slept (its time to
first token and decode time, per request, as measured by the stub: a timer that fires late on a busy
machine is the stub's delay, not the service's) and reports the service's own overhead: measured minus
the stub's time. Against real vLLM servers (``--url`` or ``--llm settings``) it reports the measured
figures, and beside them vLLM's own from each server's ``/metrics`` over the run (the counters' difference
before and after it): prefix-cache hit rate, speculative acceptance, time to first token, requests. The
servers are the configured LLM endpoints that answer with vLLM metrics, or those given (``--vllm-metrics``).

By default the stub and the API each run in their own process (as they would in production, and so the
client's CPU does not count as the service's); ``inprocess=True`` runs the API in a thread of this process
for quick tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from knowledge.configuration import Settings, get_settings
from serving.api import create_app
from serving.inprocess import free_port, run_in_thread
from serving.server import uvicorn_options
from serving.settings import ServingSettings
from serving.sse_client import SSEConnection
from serving.vllm import metrics as vllm_metrics
from serving.vllm.launch import load

QUESTIONS = ["四方科技2019年的毛利率是多少？", "那2018年呢？", "它的研发费用呢？", "这个比率是怎么算的？"]
# About 60 tokens with the stub's tokenizer: a typical short analyst answer.
STUB_ANSWER = "根据四方科技2019年年度报告第9页，公司2019年营业收入为11.20亿元，营业成本为8.14亿元，毛利率为27.31%，较2018年的25.90%上升1.41个百分点。"


# What the adapters answer in the stub: short JSON, as the fine-tuned intent / nl2sql / keywords models do.
ADAPTER_REPLIES = {
    "intent": '{"intent": "lookup", "company": "四方科技", "years": [2019], "fields": ["毛利率"]}',
    "nl2sql": '{"sql": "SELECT 营业收入, 营业成本 FROM wide WHERE code = \'603339\' AND year = 2019"}',
    "keywords": '{"keywords": ["毛利率", "营业收入", "营业成本"]}',
}


def deployed_stream_interval() -> int:
    """The answer server's --stream-interval in servers.toml, so the stub streams like the deployment."""
    return int(load().get("answer", {}).get("stream_interval", 1))


@dataclass
class LoadConfig:
    conversations: int = 128
    turns: int = 3
    url: str | None = None  # an API already running; None = start one
    api_key: str | None = None
    llm: str = "stub"  # "stub" (started here) or "settings" (the endpoints in the nianbao settings)
    agent: str = "agent.service"  # module serving the questions when the API is started here
    stub_ttft_ms: float = 300.0
    stub_tokens_per_s: float = 30.0
    stub_tokens_per_chunk: int = field(default_factory=deployed_stream_interval)
    stub_reply: str = STUB_ANSWER
    ramp_s: float = 5.0  # spread conversation starts over this many seconds (0 = all at once)
    think_s: float = 5.0  # pause between the turns of a conversation (an analyst reading the answer)
    timeout_s: float = 120.0
    inprocess: bool = False
    api_workers: int = 1  # worker processes of an API started here
    home: str | None = None  # NIANBAO_HOME for an API started here; a temp dir by default
    questions: list[str] = field(default_factory=lambda: list(QUESTIONS))
    # vLLM /metrics URLs to read before and after the run; None: the configured LLM endpoints' (not the stub's)
    vllm_metrics: list[str] | None = None


@dataclass
class Turn:
    conversation: int
    turn: int
    ok: bool
    ttft_s: float | None = None
    total_s: float | None = None
    tokens: int = 0
    error: str | None = None
    mode: str | None = None
    turn_id: str | None = None  # the agent's id for the turn; its LLM requests carry it


# Running the servers ------------------------------------------------------------------------------------

def _wait_http(url: str, proc: subprocess.Popen | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children, e.g. uvicorn's workers (Linux /proc;
    0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return 0.0
    return own + sum(cpu_seconds(int(child)) for child in children)


@contextmanager
def _process(args: list[str], env: dict[str, str], probe: str, name: str, pids: dict[str, int]):
    # stderr to a file, not a pipe: a chatty server must never block on a full pipe mid-benchmark.
    log = tempfile.NamedTemporaryFile("w+b", prefix=f"nianbao-{name}-", suffix=".log", delete=False)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log)
    pids[name] = proc.pid
    try:
        try:
            _wait_http(probe, proc)
        except RuntimeError as exc:
            log.seek(0)
            raise RuntimeError(f"{exc}\n{log.read().decode(errors='replace')[-2000:]}") from None
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        os.unlink(log.name)


def _stub_models() -> tuple[list[str], dict[str, str]]:
    """The model names the agent will ask for, and the adapters' scripted replies under those names."""
    llm = get_settings().llm
    replies = {getattr(llm, f"{role}_model"): text for role, text in ADAPTER_REPLIES.items()}
    return [llm.answer_model, *replies], replies


@contextmanager
def servers(cfg: LoadConfig, pids: dict[str, int] | None = None):
    """Yield (api_url, stub_url or None), starting what the config asks for; ``pids`` gets their pids."""
    pids = {} if pids is None else pids
    with ExitStack() as stack:
        stub_url = None
        env = dict(os.environ)
        if cfg.llm == "stub" and cfg.url is None:
            port = free_port()
            models, replies = _stub_models()
            replies_file = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nianbao-stub-"))) / "replies.json"
            replies_file.write_text(json.dumps(replies, ensure_ascii=False), encoding="utf-8")
            stack.enter_context(_process(
                [sys.executable, "-m", "serving.testing.stub_llm", "--port", str(port), "--ttft-ms", str(cfg.stub_ttft_ms),
                 "--tokens-per-s", str(cfg.stub_tokens_per_s), "--tokens-per-chunk", str(cfg.stub_tokens_per_chunk),
                 "--reply", cfg.stub_reply, "--replies", str(replies_file), "--models", ",".join(models)],
                env, f"http://127.0.0.1:{port}/v1/models", "stub", pids))
            stub_url = f"http://127.0.0.1:{port}"
            env["NIANBAO_LLM__BASE_URL"] = f"{stub_url}/v1"
            env.pop("NIANBAO_LLM__ADAPTERS_BASE_URL", None)
        if cfg.url is not None:
            yield cfg.url.rstrip("/"), stub_url
            return
        home = cfg.home or stack.enter_context(tempfile.TemporaryDirectory(prefix="nianbao-load-"))
        env.update({"NIANBAO_HOME": home, "NIANBAO_SERVE_AGENT": cfg.agent, "NIANBAO_SERVE_RATE_PER_S": "0"})
        if cfg.inprocess:
            yield stack.enter_context(_inprocess_api(env)), stub_url
            return
        port = free_port()
        stack.enter_context(_process([sys.executable, "-m", "serving", "--port", str(port),
                                      "--workers", str(cfg.api_workers)], env,
                                     f"http://127.0.0.1:{port}/healthz", "api", pids))
        yield f"http://127.0.0.1:{port}", stub_url


@contextmanager
def _inprocess_api(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app(Settings(), serving=ServingSettings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with run_in_thread(app, options=uvicorn_options(app.state.serving)) as url:
        yield url


# The client --------------------------------------------------------------------------------------------

async def _turn(client: httpx.AsyncClient, url: str, headers: dict, conv: int, turn: int, question: str,
                thread_id: str, timeout: float) -> Turn:
    start = time.perf_counter()
    ttft = None
    tokens = 0
    try:
        async with client.stream("POST", f"{url}/v1/ask?stream=true", headers=headers, timeout=timeout,
                                 json={"question": question, "thread_id": thread_id}) as response:
            if response.status_code != 200:
                body = (await response.aread()).decode(errors="replace")[:200]
                return Turn(conv, turn, False, error=f"HTTP {response.status_code}: {body}")
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "token":
                        tokens += 1
                    if event in ("token", "final") and ttft is None:
                        ttft = time.perf_counter() - start
                elif line.startswith("data: ") and event in ("final", "error"):
                    data = json.loads(line[6:])
                    if event == "error":
                        return Turn(conv, turn, False, error=data.get("error", {}).get("code", "error"))
                    return Turn(conv, turn, True, ttft, time.perf_counter() - start, tokens,
                                mode=data["result"].get("mode"), turn_id=data["result"].get("turn_id"))
            return Turn(conv, turn, False, error="stream ended without a final event")
    except (httpx.HTTPError, ValueError) as exc:
        return Turn(conv, turn, False, error=f"{type(exc).__name__}: {exc}"[:200])


async def _raw_turn(conn, conv: int, turn: int, question: str, thread_id: str, timeout: float) -> Turn:
    try:
        r = await asyncio.wait_for(conn.ask(question, thread_id), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        return Turn(conv, turn, False, error=f"{type(exc).__name__}: {exc}"[:200])
    if r["status"] != 200:
        return Turn(conv, turn, False, error=f"HTTP {r['status']}: {r.get('error', '')}")
    if "error" in r:
        return Turn(conv, turn, False, error=r["error"])
    return Turn(conv, turn, True, r["ttft_s"], r["total_s"], r["tokens"], mode=r["final"].get("mode"),
                turn_id=r["final"].get("turn_id"))


async def _conversation(client, url, headers, cfg: LoadConfig, conv: int) -> list[Turn]:
    if cfg.ramp_s:
        await asyncio.sleep(cfg.ramp_s * conv / max(1, cfg.conversations))
    thread_id = f"load-{os.getpid()}-{conv}"
    raw = SSEConnection(url, headers) if url.startswith("http://") else None
    turns = []
    try:
        for t in range(cfg.turns):
            if t and cfg.think_s:
                await asyncio.sleep(cfg.think_s)
            question = cfg.questions[t % len(cfg.questions)]
            if raw is not None:
                turns.append(await _raw_turn(raw, conv, t, question, thread_id, cfg.timeout_s))
            else:
                turns.append(await _turn(client, url, headers, conv, t, question, thread_id, cfg.timeout_s))
    finally:
        if raw is not None:
            await raw.close()
    return turns


async def _drive(url: str, cfg: LoadConfig) -> tuple[list[Turn], float]:
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    limits = httpx.Limits(max_connections=cfg.conversations + 8, max_keepalive_connections=cfg.conversations + 8)
    async with httpx.AsyncClient(limits=limits, timeout=cfg.timeout_s) as client:
        start = time.perf_counter()
        results = await asyncio.gather(*(_conversation(client, url, headers, cfg, c) for c in range(cfg.conversations)))
        wall = time.perf_counter() - start
    return [t for conv in results for t in conv], wall


def _run_async(coro):
    """uvloop when installed (uvicorn[standard] brings it): the client should cost the machine little."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _stub_records(stub_url: str | None) -> list[dict[str, Any]]:
    if not stub_url:
        return []
    return httpx.get(f"{stub_url}/stub/requests", timeout=30).json()["requests"]


def vllm_targets(cfg: LoadConfig) -> dict[str, str]:
    """{name: /metrics URL} of the vLLM servers to report on: ``cfg.vllm_metrics`` (each must answer with
    vLLM metrics), else the configured answer and adapter endpoints that do, when the LLMs are not the stub."""
    if cfg.vllm_metrics:
        for url in cfg.vllm_metrics:
            if vllm_metrics.probe(url) is None:
                raise RuntimeError(f"{url} does not answer with vLLM metrics")
        return {url: url for url in cfg.vllm_metrics}
    if cfg.llm == "stub" and cfg.url is None:
        return {}
    llm = get_settings().llm
    found: dict[str, str] = {}
    for name, base_url in (("answer", llm.url_for("answer")), ("adapters", llm.url_for("intent"))):
        url = vllm_metrics.metrics_url(base_url) if base_url else None
        if url and url not in found.values() and vllm_metrics.probe(url) is not None:
            found[name] = url
    return found


def run(cfg: LoadConfig) -> dict[str, Any]:
    """Start what is needed, warm up (first-use ingestion, imports), run the load, return the figures."""
    if not 1 <= cfg.conversations <= 1024:
        raise ValueError("conversations must be between 1 and 1024")
    pids: dict[str, int] = {}
    with servers(cfg, pids) as (url, stub_url):
        warm = _run_async(_drive(url, LoadConfig(**{**asdict(cfg), "conversations": 1, "turns": 1})))[0]
        if not warm[0].ok:
            raise RuntimeError(f"the warm-up question failed: {warm[0].error}")
        if stub_url:
            httpx.post(f"{stub_url}/stub/reset", timeout=10)
        targets = vllm_targets(cfg)
        vllm_before = {name: vllm_metrics.fetch(u) for name, u in targets.items()}
        load_before = os.getloadavg()[0]
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        client_before = time.process_time()
        turns, wall = _run_async(_drive(url, cfg))
        # Where the machine's CPU went during the load: a saturated CPU shows up as "overhead".
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        cpu["client" if not cfg.inprocess else "client+api"] = time.process_time() - client_before
        records = _stub_records(stub_url)
        vllm = {name: {"url": u, **vllm_metrics.summary(vllm_metrics.delta(vllm_before[name], vllm_metrics.fetch(u)))}
                for name, u in targets.items()}
    figures = summarize(cfg, turns, wall, records, url=url)
    figures["vllm"] = vllm
    figures["cpu_s"] = {k: round(v, 2) for k, v in cpu.items()}
    # The machine's 1-minute load average before and after: on a shared box, other work inflates "overhead".
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    figures["cpu_cores"] = os.cpu_count()
    return figures


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarize(cfg: LoadConfig, turns: list[Turn], wall: float, records: list[dict], *, url: str = "") -> dict[str, Any]:
    ok = [t for t in turns if t.ok]
    ttft = [t.ttft_s for t in ok]
    total = [t.total_s for t in ok]
    figures: dict[str, Any] = {
        "url": url, "conversations": cfg.conversations, "turns_per_conversation": cfg.turns,
        "turns": len(turns), "ok": len(ok), "errors": len(turns) - len(ok),
        "error_samples": sorted({t.error for t in turns if not t.ok})[:5],
        "wall_s": wall, "throughput_turns_per_s": len(ok) / wall if wall else 0.0,
        "throughput_tokens_per_s": sum(t.tokens for t in ok) / wall if wall else 0.0,
        "ttft_p50_s": _pct(ttft, 50), "ttft_p95_s": _pct(ttft, 95),
        "total_p50_s": _pct(total, 50), "total_p95_s": _pct(total, 95),
        "modes": sorted({t.mode for t in ok if t.mode}),
        "llm": cfg.llm if cfg.url is None else "external", "agent": cfg.agent if cfg.url is None else "external",
        "stub": None,
    }
    if records and ok:
        # Before an answer's first token come every call's sleep before its first token (a non-streamed
        # call's whole duration) — when the agent streams the answer. An agent that holds the answer back
        # until it is complete (to check its numbers) shows its first token after all of the stub's time.
        streamed = statistics.median(t.tokens for t in ok) > 1
        # The stub's time serving each request (its sleeps, their lateness and its own work); a stub
        # that reports only its sleeps is charged those.
        served = all(r.get("served_total_s") is not None for r in records)
        total_key = "served_total_s" if served else "slept_total_s"
        first_key = ("served_before_first_token_s" if served else "slept_before_first_token_s") if streamed else total_key
        by_turn: dict[str, list[dict]] = {}
        for r in records:
            by_turn.setdefault(r.get("turn") or "", []).append(r)
        if all(t.turn_id in by_turn for t in ok):
            # Each turn's own requests (they carry its id): its overhead is exactly what it took beyond
            # the stub's time for it, so a late stub timer in one turn is not counted against another.
            stub_first = [sum(r[first_key] for r in by_turn[t.turn_id]) for t in ok]
            stub_total = [sum(r[total_key] for r in by_turn[t.turn_id]) for t in ok]
            matched = "per turn"
        else:  # an agent that does not tag its requests: every turn is charged the average
            stub_first = [sum(r[first_key] for r in records) / len(ok)] * len(ok)
            stub_total = [sum(r[total_key] for r in records) / len(ok)] * len(ok)
            matched = "average"
        over_ttft = [t.ttft_s - s for t, s in zip(ok, stub_first)]
        over_total = [t.total_s - s for t, s in zip(ok, stub_total)]
        figures["stub"] = {
            "ttft_ms": cfg.stub_ttft_ms, "tokens_per_s": cfg.stub_tokens_per_s, "tokens_per_chunk": cfg.stub_tokens_per_chunk,
            "requests_per_turn": len(records) / len(ok),
            "models": sorted({r["model"] for r in records}),
            "calls_per_turn": {m: sum(r["model"] == m for r in records) / len(ok) for m in sorted({r["model"] for r in records})},
            "answer_streamed": streamed,
            "matched": matched,
            "time_before_first_token_s": statistics.mean(stub_first), "time_total_s": statistics.mean(stub_total),
            "requested_total_s": sum(r.get("requested_sleep_s", r["slept_total_s"]) for r in records) / len(ok),
            "slept_total_s": sum(r["slept_total_s"] for r in records) / len(ok),
        }
        figures.update({
            "overhead_ttft_p50_s": _pct(over_ttft, 50), "overhead_ttft_p95_s": _pct(over_ttft, 95),
            "overhead_total_p50_s": _pct(over_total, 50), "overhead_total_p95_s": _pct(over_total, 95),
        })
    return figures


def table(figures: dict[str, Any]):
    """The figures as a rich table."""
    from rich.table import Table

    def ms(v):
        return "–" if v is None else f"{v * 1000:.0f} ms"

    title = (f"{figures['conversations']} conversations × {figures['turns_per_conversation']} turns · "
             f"LLM: {figures['llm']} · agent: {figures['agent']}")
    t = Table(title=title)
    t.add_column("metric")
    t.add_column("p50", justify="right")
    t.add_column("p95", justify="right")
    t.add_row("time to first token", ms(figures["ttft_p50_s"]), ms(figures["ttft_p95_s"]))
    t.add_row("total latency", ms(figures["total_p50_s"]), ms(figures["total_p95_s"]))
    if figures.get("stub"):
        stub = figures["stub"]
        t.add_row("stub time to first token (per turn)", ms(stub["time_before_first_token_s"]), "")
        t.add_row("stub total time (per turn)", ms(stub["time_total_s"]), "")
        t.add_row("  of which its timers' lateness", ms(stub["slept_total_s"] - stub["requested_total_s"]), "")
        t.add_row(f"service overhead, first token ({stub['matched']})", ms(figures["overhead_ttft_p50_s"]),
                  ms(figures["overhead_ttft_p95_s"]))
        t.add_row("service overhead, total", ms(figures["overhead_total_p50_s"]), ms(figures["overhead_total_p95_s"]))
    t.add_section()
    t.add_row("turns ok / errors", f"{figures['ok']} / {figures['errors']}", "")
    t.add_row("throughput", f"{figures['throughput_turns_per_s']:.1f} turns/s", f"{figures['throughput_tokens_per_s']:.0f} tok/s")
    t.add_row("wall time", f"{figures['wall_s']:.1f} s", "")
    if figures.get("cpu_s"):
        used = ", ".join(f"{k} {v:.1f}" for k, v in figures["cpu_s"].items())
        t.add_row("CPU seconds used", used, f"{figures.get('cpu_cores')} cores")
    if figures.get("load_average"):
        t.add_row("machine load average (before → after)", " → ".join(map(str, figures["load_average"])), "")
    for name, v in (figures.get("vllm") or {}).items():
        vllm_rows(t, name, v)
    return t


def vllm_rows(t, name: str, v: dict[str, Any]) -> None:
    """One vLLM server's figures over the run (from its /metrics) as rows of the table."""
    def ms(x):
        return "–" if x is None else f"{x * 1000:.0f} ms"

    def pct(x):
        return "–" if x is None else f"{x:.1%}"

    t.add_section()
    t.add_row(f"vLLM {name}: requests", f"{v['requests'] or 0:.0f}", v["url"])
    ttft, e2e = v.get("ttft_s") or {}, v.get("e2e_s") or {}
    t.add_row("  time to first token (vLLM)", ms(ttft.get("p50")), ms(ttft.get("p95")))
    t.add_row("  request latency (vLLM)", ms(e2e.get("p50")), ms(e2e.get("p95")))
    cache = v.get("prefix_cache")
    if cache:
        t.add_row("  prefix-cache hit rate", pct(cache["hit_rate"]),
                  f"{cache['hit_tokens'] or 0:.0f} / {cache['queried_tokens']:.0f} tokens")
    spec = v.get("spec_decode")
    if spec:
        length = spec["mean_acceptance_length"]
        t.add_row("  speculative acceptance", pct(spec["acceptance_rate"]),
                  f"{spec['accepted_tokens'] or 0:.0f} / {spec['draft_tokens'] or 0:.0f} drafted"
                  + ("" if length is None else f", {length:.2f} tokens/step"))
