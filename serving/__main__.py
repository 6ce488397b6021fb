"""``python -m serving [--host H] [--port P]``: the API under uvicorn, configured from the environment."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    from serving.settings import ServingSettings

    defaults = ServingSettings()
    parser = argparse.ArgumentParser(prog="python -m serving")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    serve(args.host, args.port, log_level=args.log_level)


def serve(host: str, port: int, *, log_level: str = "info") -> None:
    import uvicorn

    # backlog: 128 conversations may connect at once; the default 2048 of uvicorn is fine, set for clarity.
    uvicorn.run("serving.api:app_factory", factory=True, host=host, port=port, log_level=log_level,
                backlog=2048, timeout_keep_alive=30)


if __name__ == "__main__":
    main()
