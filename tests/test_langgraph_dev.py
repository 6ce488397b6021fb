"""Issue 6: `langgraph dev` serves the graph from langgraph.json; a two-turn thread through the SDK."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("langgraph_api")
langgraph_sdk = pytest.importorskip("langgraph_sdk")

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dev_server(reports_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(reports_home, home)
    port = _free_port()
    cli = Path(sys.executable).parent / "langgraph"
    env = {**os.environ, "NIANBAO_HOME": str(home), "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    env.pop("NIANBAO_LLM__BASE_URL", None)
    log = open(tmp_path / "langgraph-dev.log", "w")
    proc = subprocess.Popen(
        [str(cli), "dev", "--host", "127.0.0.1", "--port", str(port), "--no-browser", "--no-reload"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "langgraph-dev.log").read_text()[-3000:])
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError("langgraph dev did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_two_turn_thread_through_the_sdk(dev_server):
    client = langgraph_sdk.get_sync_client(url=dev_server)
    assistants = client.assistants.search(graph_id="nianbao")
    assert assistants, "the graph from langgraph.json is registered"
    thread = client.threads.create()
    first = client.runs.wait(thread["thread_id"], "nianbao", input={"question": "四方科技2019年的货币资金是多少元？"})
    assert "905402299.44" in first["answer"].replace(",", "")
    second = client.runs.wait(thread["thread_id"], "nianbao", input={"question": "那2018年呢？"})
    assert "627041535.44" in second["answer"].replace(",", "")
    state = client.threads.get_state(thread["thread_id"])
    assert state["values"]["context"]["years"] == [2018]
