"""Cold `nianbao ask`: the wall time of a fresh process answering a lookup, against the floor of a fresh
Python importing SQLAlchemy, measured in the same run (median of N, alternating, so load hits both):
in-process (no server), and with a local `nianbao serve` running on the same home (the CLI then asks it).

    .venv/bin/python benchmarks/cold_cli.py                 # the bundled sample report, 7 runs each
    .venv/bin/python benchmarks/cold_cli.py -n 11 --question "四方科技2019年的货币资金是多少元？"

The home is prepared first (the sample ingested), so the figure is the answer's, not the ingestion's.
Prints the medians, their ratio, and the import-time breakdown of one cold ask (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_QUESTION = "四方科技2019年的货币资金是多少元？"
TARGET_S = 1.5


def _wall(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _import_breakdown(cmd: list[str], env: dict, top: int = 12) -> list[tuple[str, float]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], env=env, cwd=REPO, capture_output=True, check=False,
                          text=True)
    by_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            package = m.group(2).split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(m.group(1)) / 1e6
    return sorted(by_package.items(), key=lambda kv: -kv[1])[:top]


def _with_server(ask: list[str], floor: list[str], env: dict, home: str, n: int) -> dict[str, list[float]]:
    """The same measurement while `python -m serving` runs on the home (started and stopped here)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "serving", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (Path(home) / "serve.json").exists() or not _healthy(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the local server did not start")
            time.sleep(0.5)
        subprocess.run(ask, env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL)  # the server's first turn
        asks, floors = [], []
        for _ in range(n):
            floors.append(_wall(floor, env))
            asks.append(_wall(ask, env))
        return {"asks": asks, "floors": floors}
    finally:
        server.terminate()
        server.wait(timeout=30)


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=7, help="runs of each command")
    ap.add_argument("--question", default=DEFAULT_QUESTION)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "NIANBAO_HOME": home}
        env.pop("NIANBAO_LLM__BASE_URL", None)
        ask = [sys.executable, "-m", "agent", "ask", args.question]
        floor = [sys.executable, "-c", "import sqlalchemy"]
        subprocess.run(ask, env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL)  # ingests the sample once
        asks, floors = [], []
        for _ in range(args.n):
            floors.append(_wall(floor, env))
            asks.append(_wall(ask, env))
        served = _with_server(ask, floor, env, home, args.n)
        floor_s = statistics.median(floors + served["floors"])
        print(f"python -c 'import sqlalchemy': median {floor_s:.2f} s over {len(floors) + len(served['floors'])}")
        for label, times in (("in-process (no server)", asks), ("with a local nianbao serve", served["asks"])):
            s = statistics.median(times)
            print(f"cold `nianbao ask` (lookup), {label}: median {s:.2f} s over {len(times)} "
                  f"(min {min(times):.2f}, max {max(times):.2f}); ratio to import sqlalchemy {s / floor_s:.1f}x; "
                  f"target {TARGET_S} s {'met' if s <= TARGET_S else 'not met'}")
        print("import self-time of one cold ask, by top-level package:")
        for package, seconds in _import_breakdown(ask, env):
            print(f"  {seconds * 1000:7.1f} ms  {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
