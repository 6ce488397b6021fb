"""``nianbao serve`` and ``nianbao bench load``; ``agent.cli`` calls :func:`register`."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from knowledge.extras import require


def register(app: typer.Typer, bench: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: Annotated[Optional[str], typer.Option(help="Address to bind (NIANBAO_SERVE_HOST).")] = None,
        port: Annotated[Optional[int], typer.Option(help="Port (NIANBAO_SERVE_PORT).")] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
        workers: Annotated[int, typer.Option(min=1, help="Worker processes (one per core).")] = 1,
    ) -> None:
        """Serve the HTTP API and the analyst web chat (uvicorn)."""
        require("serve", "nianbao serve")
        # Deferred: the web stack loads only when this command runs.
        from serving.__main__ import serve as run
        from serving.settings import ServingSettings

        defaults = ServingSettings()
        run(host or defaults.host, port or defaults.port, log_level=log_level, workers=workers)

    @bench.command("load")
    def load(
        conversations: Annotated[int, typer.Option("--conversations", "-n", min=1, max=1024,
                                                   help="Concurrent conversations (threads).")] = 128,
        turns: Annotated[int, typer.Option(min=1, help="Questions per conversation, asked one after another.")] = 3,
        url: Annotated[Optional[str], typer.Option(help="A running nianbao API; default: start one here.")] = None,
        api_key: Annotated[Optional[str], typer.Option(help="API key for --url.")] = None,
        llm: Annotated[str, typer.Option(help="'stub': start the stub LLM; 'settings': the configured endpoints (vLLM).")] = "stub",
        agent: Annotated[str, typer.Option(help="Module answering questions in an API started here.")] = "agent.service",
        ttft_ms: Annotated[float, typer.Option(help="Stub time to first token.")] = 300.0,
        tokens_per_s: Annotated[float, typer.Option(help="Stub decode rate per request.")] = 30.0,
        tokens_per_chunk: Annotated[Optional[int], typer.Option(
            help="Stub tokens per streamed chunk (default: the answer server's --stream-interval).")] = None,
        ramp_s: Annotated[float, typer.Option(help="Spread conversation starts over this many seconds (0: one burst).")] = 5.0,
        think_s: Annotated[float, typer.Option(help="Pause between turns (an analyst reading the answer).")] = 5.0,
        timeout_s: Annotated[float, typer.Option(help="Per-turn timeout.")] = 120.0,
        home: Annotated[Optional[str], typer.Option(help="NIANBAO_HOME of an API started here (temp dir by default).")] = None,
        inprocess: Annotated[bool, typer.Option(help="Run the API in a thread of this process (quick checks).")] = False,
        api_workers: Annotated[int, typer.Option(min=1, help="Worker processes of an API started here.")] = 1,
        as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON too.")] = False,
        vllm_metrics: Annotated[Optional[list[str]], typer.Option(
            "--vllm-metrics", help="A vLLM server's /metrics URL to report on (repeatable; default: the configured "
                                   "LLM endpoints' when they are vLLM).")] = None,
    ) -> None:
        """N concurrent streamed conversations against the API: time to first token, latency, overhead."""
        require("serve", "nianbao bench load")
        # Deferred: the web stack loads only when this command runs.
        from rich.console import Console

        from serving.loadtest import LoadConfig, run, table

        if llm not in ("stub", "settings"):
            raise typer.BadParameter("--llm must be 'stub' or 'settings'")
        cfg = LoadConfig(conversations=conversations, turns=turns, url=url, api_key=api_key, llm=llm, agent=agent,
                         stub_ttft_ms=ttft_ms, stub_tokens_per_s=tokens_per_s, ramp_s=ramp_s, think_s=think_s,
                         timeout_s=timeout_s, home=home, inprocess=inprocess, api_workers=api_workers,
                         vllm_metrics=vllm_metrics or None)
        if tokens_per_chunk is not None:
            cfg.stub_tokens_per_chunk = tokens_per_chunk
        figures = run(cfg)
        console = Console()
        console.print(table(figures))
        if figures["error_samples"]:
            console.print(f"[red]errors:[/red] {figures['error_samples']}")
        if as_json:
            console.print_json(json.dumps(figures, default=str))
        if figures["errors"]:
            raise typer.Exit(1)
