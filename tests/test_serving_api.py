"""The HTTP API against a scripted agent: routes, streaming, OpenAI compatibility, limits, errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from serving.api import create_app  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402
from serving.testing.fake_agent import FakeAgent  # noqa: E402

RESULT_KEYS = {"answer", "intent", "company", "years", "fields", "sql", "values", "formula", "citations", "mode", "latency_ms"}


def make(settings, agent=None, **serving):
    agent = agent or FakeAgent()
    app = create_app(settings, ask_stream=agent.ask_stream, serving=ServingSettings(**serving))
    # raise_server_exceptions=False: see what a real client sees for internal errors.
    return TestClient(app, raise_server_exceptions=False), agent


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event", "message"), json.loads(fields["data"]) if fields["data"] != "[DONE]" else "[DONE]"))
    return events


@pytest.fixture
def api(settings):
    client, agent = make(settings)
    with client:
        yield client, agent


def test_ask_returns_the_ask_object_and_the_thread(api):
    client, agent = api
    r = client.post("/v1/ask", json={"question": "四方科技2019年毛利率是多少", "thread_id": "t-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert RESULT_KEYS <= set(body)
    assert body["thread_id"] == "t-1" and r.headers["x-thread-id"] == "t-1"
    assert body["answer"] == "四方科技2019年毛利率为27.31%。"
    assert agent.calls == [("四方科技2019年毛利率是多少", "t-1")]


def test_ask_without_thread_gets_a_fresh_one(api):
    client, _ = api
    first = client.post("/v1/ask", json={"question": "毛利率"}).json()["thread_id"]
    second = client.post("/v1/ask", json={"question": "毛利率"}).json()["thread_id"]
    assert first and second and first != second


@pytest.mark.parametrize("how", ["query", "accept"])
def test_ask_streams_steps_tokens_then_final(api, how):
    client, _ = api
    kwargs = {"params": {"stream": "true"}} if how == "query" else {"headers": {"Accept": "text/event-stream"}}
    with client.stream("POST", "/v1/ask", json={"question": "毛利率", "thread_id": "s"}, **kwargs) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[:3] == ["step", "step", "step"] and kinds[-1] == "final"
    tokens = "".join(e["text"] for k, e in events if k == "token")
    assert tokens == events[-1][1]["result"]["answer"]


def test_thread_log_and_unknown_thread(api):
    client, _ = api
    client.post("/v1/ask", json={"question": "四方科技2019年毛利率", "thread_id": "conv"})
    client.post("/v1/ask", json={"question": "那2018年呢？", "thread_id": "conv"})
    turns = client.get("/v1/threads/conv").json()["turns"]
    assert [t["question"] for t in turns] == ["四方科技2019年毛利率", "那2018年呢？"]
    assert "2018" in turns[1]["answer"]
    r = client.get("/v1/threads/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_thread"


def test_openai_chat_completions_with_the_openai_client(settings):
    """The official client, through the ASGI app: thread from the `user` field or the X-Thread-Id header."""
    import openai

    agent = FakeAgent()
    app = create_app(settings, ask_stream=agent.ask_stream, serving=ServingSettings())
    with TestClient(app) as tc:
        oc = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=tc, max_retries=0)
        assert [m.id for m in oc.models.list()] == ["nianbao"]
        reply = oc.chat.completions.create(
            model="nianbao", user="analyst-7",
            messages=[{"role": "system", "content": "你是分析师助手"}, {"role": "user", "content": "四方科技2019年毛利率"}])
        assert reply.choices[0].message.content == "四方科技2019年毛利率为27.31%。"
        assert agent.calls[-1] == ("四方科技2019年毛利率", "analyst-7")
        assert reply.model_extra["nianbao"]["sql"].startswith("SELECT")
        stream = oc.chat.completions.create(model="nianbao", stream=True, messages=[{"role": "user", "content": "毛利率"}],
                                            extra_headers={"X-Thread-Id": "hdr-thread"})
        text = "".join(c.choices[0].delta.content or "" for c in stream)
        assert text == "四方科技2019年毛利率为27.31%。"
        assert agent.calls[-1] == ("毛利率", "hdr-thread")


def test_chat_completion_unknown_model_and_bad_messages(api):
    client, _ = api
    r = client.post("/v1/chat/completions", json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    for messages in ([], "hi", [{"role": "assistant", "content": "x"}], [{"role": "user", "content": 3}]):
        r = client.post("/v1/chat/completions", json={"model": "nianbao", "messages": messages})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_messages", messages


def test_healthz_and_metrics(api):
    client, _ = api
    assert client.get("/healthz").json() == {"status": "ok", "mode": "embedded"}
    client.post("/v1/ask", json={"question": "毛利率"})
    with client.stream("POST", "/v1/ask?stream=true", json={"question": "毛利率"}) as r:
        r.read()
    client.post("/v1/ask", content=b"{nope")
    text = client.get("/metrics").text
    assert 'nianbao_requests_total{endpoint="/v1/ask",status="200"} 2.0' in text
    assert 'nianbao_requests_total{endpoint="/v1/ask",status="400"} 1.0' in text
    assert 'nianbao_time_to_first_token_seconds_count{endpoint="/v1/ask"} 2.0' in text
    assert 'nianbao_request_latency_seconds_bucket' in text
    assert 'nianbao_errors_total{endpoint="/v1/ask",kind="malformed_json"} 1.0' in text
    assert 'nianbao_answers_total{mode="embedded"} 2.0' in text
    assert 'nianbao_mode{mode="embedded"} 1.0' in text


# Bad input: always a clear 4xx, never a 500 ---------------------------------------------------------------

BAD_REQUESTS = [
    ("malformed json", dict(content=b'{"question": "x"', headers={"content-type": "application/json"}), 400, "malformed_json"),
    ("not an object", dict(json=["question"]), 400, "malformed_json"),
    ("empty body", dict(content=b""), 400, "empty_body"),
    ("not utf-8", dict(content=b"\xff\xfe{}"), 400, "malformed_json"),
    ("missing question", dict(json={"thread_id": "a"}), 400, "invalid_question"),
    ("question not a string", dict(json={"question": 42}), 400, "invalid_question"),
    ("blank question", dict(json={"question": "   "}), 400, "empty_question"),
    ("too long question", dict(json={"question": "毛" * 501}), 400, "question_too_long"),
    ("oversized body", dict(json={"question": "x" * 20_000}), 413, "body_too_large"),
    ("bad thread id", dict(json={"question": "x", "thread_id": "../../etc/passwd"}), 400, "invalid_thread_id"),
    ("thread id not a string", dict(json={"question": "x", "thread_id": 5}), 400, "invalid_thread_id"),
    ("unknown field", dict(json={"question": "x", "sql": "DROP TABLE wide"}), 400, "unknown_fields"),
]


@pytest.mark.parametrize("name,kwargs,status,code", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_gets_a_clear_4xx(api, name, kwargs, status, code):
    client, agent = api
    r = client.post("/v1/ask", **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in r.text
    assert agent.calls == []  # the agent never saw it


def test_oversized_body_without_content_length_is_cut_off(api):
    client, _ = api

    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    r = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_bad_stream_flag_wrong_method_and_unknown_route(api):
    client, _ = api
    assert client.post("/v1/ask?stream=maybe", json={"question": "x"}).status_code == 400
    r = client.get("/v1/ask")
    assert r.status_code == 405 and r.json()["error"]["code"] == "http_405"
    r = client.get("/v2/nothing")
    assert r.status_code == 404 and "error" in r.json()


@pytest.mark.parametrize("question", [
    "四方科技'; DROP TABLE wide; --",
    "1' OR '1'='1",
    "SELECT * FROM companies UNION SELECT password FROM users",
])
def test_sql_in_the_question_is_just_a_question(api, question):
    client, agent = api
    r = client.post("/v1/ask", json={"question": question})
    assert r.status_code == 200
    assert r.json()["intent"] == "refusal"
    assert agent.calls[-1][0] == question.strip()


def test_api_keys(settings):
    client, _ = make(settings, api_keys=["k-1", "k-2"])
    r = client.post("/v1/ask", json={"question": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.post("/v1/ask", json={"question": "x"}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert client.post("/v1/ask", json={"question": "x"}, headers={"Authorization": "Bearer k-2"}).status_code == 200
    assert client.post("/v1/ask", json={"question": "x"}, headers={"X-API-Key": "k-1"}).status_code == 200
    assert client.get("/v1/models").status_code == 401
    assert client.get("/healthz").status_code == 200  # probes need no key
    # An unauthenticated oversized body is refused as unauthenticated before it is read.
    assert client.post("/v1/ask", content=b"x" * 100_000).status_code == 401


def test_rate_limit_is_per_key(settings):
    client, _ = make(settings, api_keys=["a", "b"], rate_per_s=0.001, rate_burst=2)
    send = lambda key: client.post("/v1/ask", json={"question": "x"}, headers={"X-API-Key": key})  # noqa: E731
    assert [send("a").status_code for _ in range(3)] == [200, 200, 429]
    r = send("a")
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert send("b").status_code == 200  # another key has its own bucket


def test_an_agent_bug_is_a_generic_500_without_details(settings, caplog):
    def broken_stream(question, *, thread_id=None, settings=None):
        yield {"type": "step", "node": "intent"}
        raise KeyError("secret internal detail")

    app = create_app(settings, ask_stream=broken_stream, serving=ServingSettings())
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/v1/ask", json={"question": "x"})
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error" and "secret" not in r.text and r.json()["error"]["request_id"]
    assert "secret internal detail" in caplog.text  # the log has it
    with client.stream("POST", "/v1/ask?stream=true", json={"question": "x"}) as r:
        events = sse_events(r.read().decode())
    assert events[0][0] == "step" and events[-1][0] == "error"
    assert "secret" not in json.dumps(events)


def test_blocking_agent_does_not_block_other_requests(settings):
    """While slow conversations are being answered, health checks still answer at once."""
    import threading
    import time

    agent = FakeAgent(step_delay_s=0.3)
    client, _ = make(settings, agent)
    with client:
        threads = [threading.Thread(target=lambda: client.post("/v1/ask", json={"question": "x"})) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        start = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        assert time.perf_counter() - start < 0.5  # the agents hold their threads for 0.9 s
        for t in threads:
            t.join()


def test_web_chat_page_is_served_without_external_urls(api):
    client, _ = api
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/chart.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    import re
    from pathlib import Path

    for path in (Path(__file__).resolve().parent.parent / "serving" / "static").iterdir():
        # The SVG namespace is an identifier createElementNS needs, never fetched.
        text = path.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(https?:)?//[a-z0-9-]+(\.[a-z0-9-]+)+", text, re.I), path


GARBAGE = [b"", b"null", b"[]", b'"x"', b"{", b"{}", b'{"question": null}', b'{"question": ["a"]}', b'{"question": {}}',
           b'{"messages": null, "model": "nianbao"}', b'{"model": "nianbao", "messages": [null]}',
           b'{"model": "nianbao", "messages": [{"role": "user"}]}', b'{"model": "nianbao", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}',
           b'{"model": ["nianbao"]}', b"\x00\x01\x02", "{\"question\": \"\ud800\"}".encode("utf-8", "surrogatepass"),
           b'{"question": "x", "thread_id": ""}', b'{"question": "' + b"\\u0000" * 10 + b'"}']


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask?stream=true", "/v1/chat/completions"])
def test_no_garbage_body_gets_a_500(api, path):
    client, _ = api
    for body in GARBAGE:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code < 500, (path, body, r.status_code, r.text)
        if r.status_code >= 400:
            assert r.json()["error"]["message"]


def test_a_missing_agent_module_is_a_503(settings):
    app = create_app(settings, serving=ServingSettings(agent="no_such_agent_module"))
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/v1/ask", json={"question": "x"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "agent_unavailable"
    with client.stream("POST", "/v1/ask?stream=true", json={"question": "x"}) as r:
        events = sse_events(r.read().decode())
    assert events[-1][0] == "error" and events[-1][1]["error"]["code"] == "agent_unavailable"


# The real agent (embedded mode, the sample report ingested once for the module) ---------------------------

@pytest.fixture(scope="module")
def real_client(tmp_path_factory):
    pytest.importorskip("graph.graph")
    from knowledge.configuration import Settings

    settings = Settings(home=tmp_path_factory.mktemp("real") / "home")
    with TestClient(create_app(settings, serving=ServingSettings()), raise_server_exceptions=False) as client:
        assert client.post("/v1/ask", json={"question": "四方科技2019年的毛利率是多少？", "thread_id": "warm"}).status_code == 200
        yield client


@pytest.mark.parametrize("question", [
    "四方科技'; DROP TABLE company_year; --",
    "1' OR '1'='1",
    "SELECT * FROM companies UNION SELECT sql FROM sqlite_master",
    "四方科技2019年的毛利率是多少？\x00\x07",
    "🙂🙂🙂",
    "？",
    "毛" * 500,
])
def test_real_agent_answers_odd_questions_without_a_500(real_client, question):
    r = real_client.post("/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["answer"], str)


def test_real_agent_keeps_the_data_after_an_injection_attempt(real_client):
    real_client.post("/v1/ask", json={"question": "四方科技'; DROP TABLE company_year; --"})
    r = real_client.post("/v1/ask", json={"question": "四方科技2019年的毛利率是多少？"})
    assert "23.15%" in r.json()["answer"]


def test_real_agent_follow_up_on_one_thread_over_openai_chat(real_client):
    r1 = real_client.post("/v1/chat/completions", headers={"X-Thread-Id": "fu"},
                          json={"model": "nianbao", "messages": [{"role": "user", "content": "四方科技2019年的毛利率是多少？"}]})
    r2 = real_client.post("/v1/chat/completions", headers={"X-Thread-Id": "fu"},
                          json={"model": "nianbao", "messages": [{"role": "user", "content": "那2018年呢？"}]})
    assert "23.15%" in r1.json()["choices"][0]["message"]["content"]
    assert "26.74%" in r2.json()["choices"][0]["message"]["content"]
    assert real_client.get("/v1/threads/fu").json()["turns"][1]["question"] == "那2018年呢？"
    assert real_client.get("/v1/threads/never-seen").status_code == 404
