"""Real vLLM servers on CPU, started from the project's own launch configurations, on tiny local models.

    python -m finetune.tiny /tmp/tiny                      # the models (once)
    python -m serving.vllm.harness /tmp/tiny               # both servers; prints their URLs; Ctrl-C stops

Each server is its launch script (``serving/vllm/launch_base.sh``, ``launch_answer.sh``: servers.toml through
``serving.vllm.launch``) with the changes of ``cpu.toml`` as the script's own options (``--entrypoint``,
``--set``, ``--unset``), run by the vLLM venv's interpreter (``.venv-vllm``, scripts/vllm_cpu_env.sh; first
on PATH, so the scripts' ``python`` is it). A server runs in a process group of its own (vLLM's engine
and worker are child processes) and is stopped by group; readiness is ``/v1/models`` listing every name
the server must serve; each server's output goes to its own log file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from serving.inprocess import free_port
from serving.vllm import launch

REPO = Path(__file__).resolve().parents[2]
# The changes to servers.toml for a run on the tiny models: cpu.toml (vllm-cpu), or gpu.toml for the same
# checks on one GPU; NIANBAO_VLLM_PLAN picks the file and NIANBAO_VLLM_VENV the venv vLLM is installed in.
CPU_PLAN = Path(os.environ.get("NIANBAO_VLLM_PLAN") or Path(__file__).with_name("cpu.toml"))
DEFAULT_VENV = Path(os.environ.get("NIANBAO_VLLM_VENV") or REPO / ".venv-vllm")
SCRIPTS = {"base": "launch_base.sh", "answer": "launch_answer.sh"}
# vLLM's request log (--enable-log-requests): one line per request, naming its LoRA adapter if any.
_REQUEST = re.compile(r"Received request \S+: .*?lora_request: (?:\S*?lora_name='([^']*)'|None)")


def plan(path: Path = CPU_PLAN) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def launch_options(name: str, cpu: dict[str, Any] | None = None) -> list[str]:
    """The launch script's options that turn server ``name`` into its CPU run."""
    cpu = cpu or plan()
    options = ["--entrypoint", cpu.get("entrypoint", "vllm")]
    for change in cpu["change"]:
        if name not in change["servers"]:
            continue
        if change.get("unset"):
            options += ["--unset", change["key"]]
        else:
            options += ["--set", f"{change['key']}={json.dumps(change['value'], ensure_ascii=False)}"]
    return options


def substitutions(cpu: dict[str, Any] | None = None, servers: dict[str, dict] | None = None) -> list[dict[str, Any]]:
    """cpu.toml as rows: server, flag, its production value (servers.toml), the CPU value, why."""
    cpu, servers = cpu or plan(), servers or launch.load(env={})
    rows = [] if cpu.get("entrypoint", "vllm") == "vllm" else [
        {"server": "both", "flag": "vllm serve MODEL", "production": "vllm serve",
         "cpu": "python -m vllm.entrypoints.openai.api_server --model MODEL",
         "why": "vllm-cpu's `vllm` command looks up the distribution named vllm and fails"}]
    for change in cpu["change"]:
        for name in change["servers"]:
            rows.append({"server": name, "flag": "--" + change["key"].replace("_", "-"),
                         "production": servers[name].get(change["key"], "(not set)"),
                         "cpu": "(dropped)" if change.get("unset") else change["value"], "why": change["why"]})
    return rows


def vllm_python(venv: Path = DEFAULT_VENV) -> Path | None:
    """The venv's interpreter when vLLM is installed there, else None."""
    python = Path(venv) / "bin" / "python"
    installed = any(Path(venv).glob("lib/python3*/site-packages/vllm/__init__.py"))
    return python if python.exists() and installed else None


def environment(models_root: Path, venv: Path = DEFAULT_VENV, cpu: dict[str, Any] | None = None) -> dict[str, str]:
    cpu = cpu or plan()
    models_root = Path(models_root).resolve()
    places = {"models": str(models_root / "models"), "adapters": str(models_root / "adapters")}
    env = dict(os.environ)
    env.update(cpu.get("environment", {}))
    env.update({k: v.format(**places) for k, v in cpu["paths"].items()})
    env["PATH"] = f"{Path(venv).resolve() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(Path(venv).resolve())
    env.pop("PYTHONPATH", None)  # the project venv's paths must not leak into vLLM's interpreter
    return env


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in the group (the API server, vLLM's engine core and worker)."""
    page, total = os.sysconf("SC_PAGE_SIZE"), 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, the process group
            total += int(fields[21]) * page  # field 24, rss in pages
    return total


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    expect: list[str]  # the model names /v1/models must list
    started: float = field(default_factory=time.monotonic)
    ready_s: float | None = None
    peak_rss: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def metrics_url(self) -> str:
        return self.url + "/metrics"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def requests(self, since: int = 0) -> list[str]:
        """The model each request logged after byte ``since`` of the log addressed: its LoRA adapter's
        name, or the served name for the model itself."""
        with open(self.log_path, "rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", errors="replace")
        return [m.group(1) or self.expect[0] for m in _REQUEST.finditer(text)]

    def models(self) -> list[str]:
        return [m["id"] for m in httpx.get(self.base_url + "/models", timeout=5).json()["data"]]

    def wait_ready(self, timeout_s: float) -> None:
        deadline = self.started + timeout_s
        while True:
            try:
                if set(self.expect) <= set(self.models()):
                    self.ready_s = time.monotonic() - self.started
                    return
            except (httpx.HTTPError, OSError, ValueError, KeyError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM {self.name} exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM {self.name} not ready after {timeout_s:.0f} s:\n{self.log()[-4000:]}")
            time.sleep(1.0)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after ``timeout_s``."""
        for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_rss(self.proc.pid):
                self.proc.poll()  # reap the leader so it leaves the group
                time.sleep(0.2)
            if not group_rss(self.proc.pid):
                self.proc.poll()
                break
        self.log_path.with_suffix(".pgid").unlink(missing_ok=True)


def expected_models(name: str, servers: dict[str, dict]) -> list[str]:
    table = servers[name]
    served = table.get("served_model_name") or table["model"]
    return [served, *table.get("lora_modules", {})]


def start(name: str, models_root: Path, log_dir: Path, *, venv: Path = DEFAULT_VENV,
          cpu: dict[str, Any] | None = None) -> Server:
    """Start server ``name`` (not waiting for it)."""
    cpu = cpu or plan()
    env = environment(models_root, venv, cpu)
    servers = launch.load(env=env)
    port = free_port()
    log_path = Path(log_dir) / f"vllm-{name}.log"
    command = ["sh", str(REPO / "serving" / "vllm" / SCRIPTS[name]), "--host", "127.0.0.1", "--port", str(port),
               *launch_options(name, cpu)]
    with open(log_path, "wb") as log:
        log.write(f"$ {' '.join(command)}\n".encode())
        log.flush()
        # A session of its own: the group is vLLM's API server, engine core and worker, stopped together.
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    # For whoever must clean up after a runner killed without its finally blocks (scripts/ci_stage_vllm.sh).
    (Path(log_dir) / f"vllm-{name}.pgid").write_text(f"{proc.pid}\n")
    return Server(name, port, proc, log_path, expected_models(name, servers))


@contextmanager
def running(models_root: Path, log_dir: Path, names: tuple[str, ...] = ("base", "answer"), *,
            venv: Path = DEFAULT_VENV, timeout_s: float = 600.0) -> Iterator[dict[str, Server]]:
    """Start the servers together, wait until each is ready (or raise with its log), yield them by name;
    stopped by process group on the way out. Each one's peak resident memory is sampled meanwhile."""
    if vllm_python(venv) is None:
        raise RuntimeError(f"no vLLM in {venv}: run scripts/vllm_cpu_env.sh")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    cpu = plan()
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for name in names:
            servers[name] = server = start(name, models_root, log_dir, venv=venv, cpu=cpu)
            stack.callback(server.stop)
        done = threading.Event()
        stack.callback(done.set)

        def sample() -> None:
            while not done.wait(1.0):
                for s in servers.values():
                    s.peak_rss = max(s.peak_rss, group_rss(s.proc.pid))

        threading.Thread(target=sample, name="vllm-rss", daemon=True).start()
        for server in servers.values():
            server.wait_ready(timeout_s)
        yield servers


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m serving.vllm.harness", description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the directory finetune.tiny built")
    parser.add_argument("--servers", default="base,answer")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/nianbao-vllm-logs"))
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args(argv)
    for row in substitutions():
        print(f"{row['server']:>6} {row['flag']}: {row['production']} -> {row['cpu']}")
    # SIGTERM and SIGINT end the wait and stop the servers: installed explicitly, since a process started in
    # the background of a shell inherits SIGINT ignored, and Python's default SIGTERM would orphan them.
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        with running(args.models, args.logs, tuple(args.servers.split(",")), venv=args.venv) as servers:
            for s in servers.values():
                print(f"{s.name}: {s.base_url} ready in {s.ready_s:.0f} s (logs {s.log_path}); "
                      f"serves {', '.join(s.expect)}", flush=True)
            signal.pause()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
