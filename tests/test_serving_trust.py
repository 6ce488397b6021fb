"""Trust under attack, at the HTTP API: threads belong to the key that started them, rate limits are keyed
on what the server verified (and failed authentication is limited too), hostile bodies and thread ids get a
clear 4xx before anything runs or is stored. (Slow clients: tests/test_serving_timeouts.py.)"""

from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from serving.api import create_app  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402
from serving.testing.fake_agent import FakeAgent  # noqa: E402

A, B = {"X-API-Key": "key-a"}, {"Authorization": "Bearer key-b"}
CHAT = "/v1/chat/completions"


def client_for(settings, agent: FakeAgent, **serving) -> TestClient:
    app = create_app(settings, ask_stream=agent.ask_stream, serving=ServingSettings(**serving))
    return TestClient(app, raise_server_exceptions=False)


def ask(client: TestClient, headers: dict, question: str, thread_id: str, path: str = "/v1/ask"):
    return client.post(path, headers=headers, json={"question": question, "thread_id": thread_id})


def chat(question: str = "毛利率", **extra) -> dict:
    return {"model": "nianbao", "messages": [{"role": "user", "content": question}], **extra}


# 1. Threads belong to the API key (tenant) that started them ---------------------------------------------

def test_a_thread_started_with_one_key_is_404_for_another_on_every_route(settings):
    agent = FakeAgent()
    with client_for(settings, agent, api_keys=["key-a", "key-b"]) as client:
        assert ask(client, A, "四方科技2019年毛利率", "t-a").status_code == 200
        calls = list(agent.calls)

        attempts = {
            "read": client.get("/v1/threads/t-a", headers=B),
            "ask": ask(client, B, "那2018年呢？", "t-a"),
            "ask sse": ask(client, B, "那2018年呢？", "t-a", "/v1/ask?stream=true"),
            "chat header": client.post(CHAT, headers={**B, "X-Thread-Id": "t-a"}, json=chat()),
            "chat user": client.post(CHAT, headers=B, json=chat(user="t-a")),
            "chat stream": client.post(CHAT, headers={**B, "X-Thread-Id": "t-a"}, json=chat(stream=True)),
        }
        for route, r in attempts.items():
            assert r.status_code == 404, (route, r.status_code, r.text)
            assert r.json()["error"]["code"] == "unknown_thread", route
        assert agent.calls == calls  # none of B's turns ran, so nothing was checkpointed for them

        # The owner still reads and continues it, on every route.
        assert ask(client, A, "那2018年呢？", "t-a").status_code == 200
        assert client.post(CHAT, headers={**A, "X-Thread-Id": "t-a"}, json=chat()).status_code == 200
        turns = client.get("/v1/threads/t-a", headers=A).json()["turns"]
        assert [t["question"] for t in turns] == ["四方科技2019年毛利率", "那2018年呢？", "毛利率"]


def test_a_thread_id_cannot_be_claimed_by_another_key_even_across_workers(settings):
    """Two apps on one home stand for two worker processes sharing the checkpoint file."""
    agent_1, agent_2 = FakeAgent(), FakeAgent()
    keys = ["key-a", "key-b"]
    with (client_for(settings, agent_1, api_keys=keys) as worker_1,
          client_for(settings, agent_2, api_keys=keys) as worker_2):
        assert ask(worker_1, B, "毛利率", "b-first").status_code == 200
        r = ask(worker_2, A, "毛利率", "b-first")
        assert r.status_code == 404 and agent_2.calls == []
        assert ask(worker_2, B, "再问", "b-first").status_code == 200
        # A fresh thread (no id sent) belongs to its key too.
        fresh = worker_1.post("/v1/ask", headers=A, json={"question": "毛利率"}).json()["thread_id"]
        assert worker_2.post(CHAT, headers=B, json=chat(user=fresh)).status_code == 404
    # The owner is stored as a digest, never as the key itself.
    with sqlite3.connect(settings.checkpoint_path) as conn:
        dump = "\n".join(conn.iterdump())
    assert "b-first" in dump and "key-a" not in dump and "key-b" not in dump


def test_threads_are_shared_without_keys(settings):
    agent = FakeAgent()
    with client_for(settings, agent) as client:
        client.post("/v1/ask", headers=A, json={"question": "毛利率", "thread_id": "shared"})
        assert client.post("/v1/ask", headers=B, json={"question": "再问", "thread_id": "shared"}).status_code == 200
        assert len(client.get("/v1/threads/shared").json()["turns"]) == 2


# 2. Rate limits on the verified key, else the client address; failed authentication limited too ----------

def test_without_keys_rotating_fake_keys_does_not_step_around_the_limit(settings):
    with client_for(settings, FakeAgent(), rate_per_s=0.001, rate_burst=3) as client:
        codes = [client.post("/v1/ask", headers={"X-API-Key": f"fake-{i}"}, json={"question": "x"}).status_code
                 for i in range(6)]
    assert codes == [200, 200, 200, 429, 429, 429]


def test_wrong_key_guesses_get_429_after_the_limit(settings):
    limits = {"auth_failures_per_s": 0.001, "auth_failure_burst": 5}
    with client_for(settings, FakeAgent(), api_keys=["key-a"], **limits) as client:
        codes = [client.post("/v1/ask", headers={"X-API-Key": f"guess-{i}"}, json={"question": "x"}).status_code
                 for i in range(1000)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        r = client.get("/v1/models")  # no key at all: a failure too
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # Locked out whatever it sends next, the right key included: else a lucky guess would still pass
        # and the 429s would tell wrong keys from the right one.
        assert client.post("/v1/ask", headers=A, json={"question": "x"}).status_code == 429
    with client_for(settings, FakeAgent(), api_keys=["key-a"]) as client:
        assert client.get("/healthz").status_code == 200


def test_a_valid_keys_limit_is_its_own(settings):
    with client_for(settings, FakeAgent(), api_keys=["key-a", "key-b"], rate_per_s=0.001, rate_burst=2) as client:
        send = lambda headers: client.post("/v1/ask", headers=headers, json={"question": "x"}).status_code  # noqa: E731
        assert [send(A), send(A), send(A)] == [200, 200, 429]
        assert send(B) == 200


# 3. Hostile bodies: nested too deep is a 4xx, never a RecursionError's 500 --------------------------------

@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask?stream=true", CHAT])
@pytest.mark.parametrize("body", [
    b"[" * 5000,
    b"[" * 5000 + b"]" * 5000,
    b'{"question": ' + b"[" * 40 + b"]" * 40 + b"}",
    b'{"question": "x", "thread_id": ' + b'{"a":' * 5000 + b"}",
])
def test_deeply_nested_json_is_a_4xx(settings, path, body):
    agent = FakeAgent()
    with client_for(settings, agent, max_body_bytes=64 * 1024) as client:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 413, 422), r.text
    assert r.json()["error"]["code"] == "body_too_deep" and agent.calls == []


def test_brackets_inside_strings_are_not_nesting(settings):
    agent = FakeAgent()
    with client_for(settings, agent) as client:
        r = client.post("/v1/ask", json={"question": "[" * 100 + '\\"{' * 50})
    assert r.status_code == 200, r.text


# 4. Thread ids: ASCII, fully matched, refused before anything runs or is stored --------------------------

BAD_IDS = ["线程一", "abc\n", "abc\r\n", "t\r\nX-Evil: 1", "１２３", "٣٤٥", "ａｂｃ", "a" * 129, "a b", "../x", "é"]


@pytest.mark.parametrize("thread_id", BAD_IDS, ids=ascii)
def test_a_bad_thread_id_is_400_before_the_turn(settings, thread_id):
    agent = FakeAgent()
    with client_for(settings, agent, api_keys=["key-a"]) as client:
        for path, body in (("/v1/ask", {"question": "x", "thread_id": thread_id}),
                           ("/v1/ask?stream=true", {"question": "x", "thread_id": thread_id}),
                           (CHAT, chat(user=thread_id))):
            r = client.post(path, headers=A, json=body)
            assert r.status_code == 400, (path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "invalid_thread_id"
            assert "x-thread-id" not in r.headers
        if not {"\r", "\n"} & set(thread_id):  # a client library refuses those in a header itself
            r = client.post(CHAT, headers={**A, "X-Thread-Id": thread_id.encode("utf-8")}, json=chat())
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_thread_id"
    assert agent.calls == []
    # Nothing stored: no owner row for any of them (the table may not even exist yet).
    if settings.checkpoint_path.exists():
        with sqlite3.connect(settings.checkpoint_path) as conn:
            assert not [r for r in conn.iterdump() if "INSERT" in r]


def test_the_thread_read_route_refuses_bad_ids_with_a_404(settings):
    with client_for(settings, FakeAgent()) as client:
        for thread_id in ("线程一", "abc%0A", "a" * 129):
            r = client.get(f"/v1/threads/{thread_id}")
            assert r.status_code == 404, (thread_id, r.text)


def test_good_thread_ids_reach_the_agent_and_the_header(settings):
    agent = FakeAgent()
    good = ["t-1", "user@example.com", "urn:x:1.2", "A_b", "a" * 128]
    with client_for(settings, agent) as client:
        for thread_id in good:
            r = client.post("/v1/ask", json={"question": "x", "thread_id": thread_id})
            assert r.status_code == 200 and r.headers["x-thread-id"] == thread_id
    assert [t for _, t in agent.calls] == good


# The owners where the checkpoints are in PostgreSQL ------------------------------------------------------

@pytest.fixture
def postgres_url(postgres_cluster):
    pytest.importorskip("psycopg_pool")
    return postgres_cluster


def test_thread_owners_in_postgres(postgres_url, tmp_path):
    import psycopg

    from knowledge.configuration import Settings

    settings = Settings(home=tmp_path / "home", checkpoint_url=postgres_url)
    keys = ["key-a", "key-b"]
    agent_1, agent_2 = FakeAgent(), FakeAgent()
    with (client_for(settings, agent_1, api_keys=keys) as worker_1,
          client_for(settings, agent_2, api_keys=keys) as worker_2):
        assert ask(worker_1, A, "毛利率", "pg-a").status_code == 200
        assert ask(worker_2, B, "再问", "pg-a").status_code == 404
        assert ask(worker_2, A, "再问", "pg-a").status_code == 200
        assert worker_1.get("/v1/threads/pg-a", headers=B).status_code == 404
        assert agent_2.calls == [("再问", "pg-a")]
        # A thread with checkpoints but no owner (from before keys were configured) is nobody's.
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS checkpoints (thread_id TEXT)")
            conn.execute("INSERT INTO checkpoints VALUES ('legacy')")
        assert worker_1.post("/v1/ask", headers=A, json={"question": "x", "thread_id": "legacy"}).status_code == 404
    assert not (tmp_path / "home" / "threads.sqlite").exists()


def test_a_thread_from_before_keys_belongs_to_nobody(settings):
    settings.ensure_home()
    with sqlite3.connect(settings.checkpoint_path) as conn:  # what LangGraph's saver left of an old thread
        conn.execute("CREATE TABLE checkpoints (thread_id TEXT)")
        conn.execute("INSERT INTO checkpoints VALUES ('old')")
    agent = FakeAgent()
    with client_for(settings, agent, api_keys=["key-a"]) as client:
        assert client.post("/v1/ask", headers=A, json={"question": "x", "thread_id": "old"}).status_code == 404
        assert client.post("/v1/ask", headers=A, json={"question": "x", "thread_id": "new"}).status_code == 200
    assert agent.calls == [("x", "new")]
