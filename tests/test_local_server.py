"""`nianbao ask` uses a local `nianbao serve` announced in the home, and answers in-process when there
is none, it is stale, or it fails."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from agent.cli import app
from knowledge import configuration
from knowledge.local_server import announced, announcement_file, running_server, url_for

runner = CliRunner()


class _StubApi(BaseHTTPRequestHandler):
    """/v1/ask of a local API: records the request, answers with ``reply`` (or fails with ``status``)."""

    seen: list[dict] = []
    status = 200
    reply = {"answer": "来自本地服务的答案。", "citations": [{"page": 59}]}

    def do_POST(self):  # noqa: N802 (the http.server API)
        length = int(self.headers["Content-Length"])
        type(self).seen.append({"path": self.path, "body": json.loads(self.rfile.read(length)),
                                "auth": self.headers.get("Authorization")})
        payload = json.dumps(self.reply if self.status == 200 else {"error": {}}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_api():
    _StubApi.seen, _StubApi.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("NIANBAO_HOME", str(home))
    configuration.get_settings.cache_clear()
    return home


def test_ask_uses_the_announced_local_server(home, stub_api, monkeypatch):
    monkeypatch.setenv("NIANBAO_API_KEY", "k1")
    with announced(home, "0.0.0.0", stub_api.server_address[1]):
        result = runner.invoke(app, ["ask", "四方科技2019年的货币资金是多少元？", "--thread", "t1"])
    assert result.exit_code == 0, result.output
    assert "来自本地服务的答案" in result.output and "第59页" in result.output
    assert _StubApi.seen == [{"path": "/v1/ask", "body": {"question": "四方科技2019年的货币资金是多少元？", "thread_id": "t1"},
                              "auth": "Bearer k1"}]
    assert not announcement_file(home).exists()  # removed when the server stops


def test_a_failing_server_or_local_flag_answers_in_process(home, stub_api, monkeypatch):
    import agent.service

    calls = []
    monkeypatch.setattr(agent.service, "ask", lambda q, **kw: calls.append(q) or {"answer": "本进程的答案。"})
    _StubApi.status = 500
    with announced(home, "127.0.0.1", stub_api.server_address[1]):
        failed = runner.invoke(app, ["ask", "问题一"])
        _StubApi.status = 200
        local = runner.invoke(app, ["ask", "问题二", "--local"])
    assert "本进程的答案" in failed.output and "本进程的答案" in local.output
    assert calls == ["问题一", "问题二"] and len(_StubApi.seen) == 1  # --local never asked the server


def test_a_stale_or_broken_announcement_is_ignored(home):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    home.mkdir(parents=True)
    announcement_file(home).write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": dead.pid}), encoding="utf-8")
    assert running_server(home) is None
    announcement_file(home).write_text("not json", encoding="utf-8")
    assert running_server(home) is None
    with announced(home, "::", 8000):  # bound to every address: reached on the loopback one
        assert running_server(home) == "http://127.0.0.1:8000"
    assert url_for("::1", 8000) == "http://[::1]:8000"
