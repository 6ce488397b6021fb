"""``python -m serving [--host H] [--port P]``: the API under uvicorn, configured from the environment."""

from __future__ import annotations

import argparse

from ingestion.sample import ensure_sample
from knowledge.configuration import get_settings
from knowledge.local_server import announced
from knowledge.store import store_for
from serving.settings import ServingSettings


def main(argv: list[str] | None = None) -> None:
    defaults = ServingSettings()
    parser = argparse.ArgumentParser(prog="python -m serving")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    serve(args.host, args.port, log_level=args.log_level, workers=args.workers)


def serve(host: str, port: int, *, log_level: str = "info", workers: int = 1) -> None:
    """Run the API. Several ``workers`` (processes) use several cores: the agent's work per question is
    Python under one GIL per process. Threads live in the shared checkpointer, so any worker can answer
    any turn; rate limits and /metrics are per worker."""
    # Deferred: uvicorn is the serve extra; `nianbao serve` checks for it before calling this.
    import uvicorn

    from serving.server import uvicorn_options

    serving = ServingSettings()
    if workers > 1 and serving.agent == "agent.service":
        # Ingest the bundled sample once, here, rather than racing to do it in every worker.
        settings = get_settings()
        ensure_sample(settings, store_for(settings))
    # backlog: 128 conversations may connect at once; the default 2048 of uvicorn is fine, set for clarity.
    # uvicorn_options: the keep-alive timeout and a deadline for each request's head (slow clients).
    # serve.json in the home: `nianbao ask` uses this server instead of loading the agent itself.
    with announced(get_settings().home, host, port):
        uvicorn.run("serving.api:app_factory", factory=True, host=host, port=port, log_level=log_level,
                    backlog=2048, workers=workers, **uvicorn_options(serving))


if __name__ == "__main__":
    main()
