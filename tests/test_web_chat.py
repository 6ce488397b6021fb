"""The analyst web chat in a real headless Chromium (Debian's), driven by Playwright: a two-turn chat."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if shutil.os.path.exists("/usr/bin/chromium") else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("fastapi")

from serving.api import create_app  # noqa: E402
from serving.inprocess import run_in_thread  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402
from serving.testing.fake_agent import FakeAgent  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def server(settings):
    agent = FakeAgent(token_delay_s=0.02)  # slow enough that the page really renders a stream
    app = create_app(settings, ask_stream=agent.ask_stream, serving=ServingSettings())
    with run_in_thread(app) as url:
        yield url, agent


@pytest.fixture
def page():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            # Nothing leaves the machine: any request not to the loopback server fails the test.
            outside: list[str] = []
            page.on("request", lambda r: None if r.url.startswith("http://127.0.0.1") else outside.append(r.url))
            yield page
            assert outside == []
        finally:
            browser.close()


def ask(page, question: str, nth: int):
    page.get_by_test_id("question").fill(question)
    page.get_by_test_id("send").click()
    message = page.get_by_test_id("assistant-message").nth(nth)
    playwright_api.expect(message).to_have_attribute("data-done", "true", timeout=15_000)
    return message


def test_two_turn_chat_streams_answers_with_citations_sql_formula_and_chart(server, page, tmp_path):
    url, agent = server
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")

    first = ask(page, "四方科技2019年的毛利率是多少？", 0)
    expect = playwright_api.expect
    expect(first.get_by_test_id("answer")).to_have_text("四方科技2019年毛利率为27.31%。")
    expect(first.get_by_test_id("citations")).to_contain_text("第9页")
    expect(first.get_by_test_id("citations")).to_contain_text("四方科技2019年年度报告")
    expect(first.get_by_test_id("sql")).to_contain_text("SELECT 营业收入, 营业成本")
    expect(first.get_by_test_id("formula")).to_contain_text("(营业收入-营业成本)/营业收入*100")
    expect(first.locator(".steps")).to_contain_text("理解问题 → 查询数据 → 生成回答")

    # The follow-up goes to the same thread, so the agent can resolve 「那2018年呢？」.
    second = ask(page, "那2018年呢？", 1)
    expect(second.get_by_test_id("answer")).to_have_text("四方科技2018年毛利率为25.90%。")
    expect(second.get_by_test_id("citations")).to_contain_text("2018年 营业收入")
    assert agent.calls[0][1] == agent.calls[1][1] and agent.calls[0][1]

    third = ask(page, "四方科技营业收入的增长趋势", 2)
    expect(third.locator("svg[data-kind=series] rect")).to_have_count(3)
    fourth = ask(page, "2019年营业收入排名前三的公司", 3)
    expect(fourth.locator("svg[data-kind=ranking]")).to_contain_text("1. 生物股份")

    expect(page.get_by_test_id("user-message")).to_have_count(4)
    page.screenshot(path=str(tmp_path / "web_chat.png"), full_page=True)
    if shutil.os.environ.get("NIANBAO_SCREENSHOT"):
        page.screenshot(path=shutil.os.environ["NIANBAO_SCREENSHOT"], full_page=True)
    assert errors == []


def test_error_from_the_api_is_shown_not_swallowed(server, page):
    url, _ = server
    page.goto(url + "/")
    page.evaluate("document.querySelector('#question').removeAttribute('maxlength')")
    page.get_by_test_id("question").fill("毛" * 600)
    page.get_by_test_id("send").click()
    message = page.get_by_test_id("assistant-message").first
    playwright_api.expect(message).to_have_attribute("data-done", "error", timeout=15_000)
    playwright_api.expect(message).to_contain_text("the limit is 500")


def test_two_turn_chat_with_the_real_agent(settings, page):
    """The same page over the real agent (embedded mode, the bundled sample report ingested on first use)."""
    pytest.importorskip("graph.graph")
    app = create_app(settings, serving=ServingSettings())  # the default backend: agent.service
    with run_in_thread(app) as url:
        page.goto(url + "/")
        page.get_by_test_id("question").fill("四方科技2019年的毛利率是多少？")
        page.get_by_test_id("send").click()
        first = page.get_by_test_id("assistant-message").nth(0)
        # The first question of a fresh home ingests the sample report: allow for it.
        playwright_api.expect(first).to_have_attribute("data-done", "true", timeout=180_000)
        expect = playwright_api.expect
        expect(first.get_by_test_id("answer")).to_contain_text("23.15%")
        expect(first.get_by_test_id("citations")).to_contain_text("四方科技2019年年度报告 · 第63页")
        expect(first.get_by_test_id("formula")).to_contain_text("营业收入")

        second = ask(page, "那2018年呢？", 1)
        expect(second.get_by_test_id("answer")).to_contain_text("2018")
        expect(second.get_by_test_id("answer")).to_contain_text("26.74%")
        expect(second.get_by_test_id("citations")).to_contain_text("第63页")
