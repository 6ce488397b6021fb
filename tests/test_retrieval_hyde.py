"""HyDE: used when an LLM endpoint is configured, silently skipped when it fails or is absent."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.retrieval_corpus import SAMPLE_PDF, load_report
from graph import llm, nodes
from knowledge.configuration import Settings
from knowledge.store import Store
from tools.retrieval import search


@pytest.fixture
def store(settings) -> Store:
    settings.ensure_home()
    s = Store(settings.db_url)
    load_report(s, SAMPLE_PDF)
    return s


def _with_llm(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm": settings.llm.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})})


def test_no_endpoint_no_call(settings, monkeypatch):
    async def never(*a, **k):
        pytest.fail("no endpoint: HyDE must not call")

    monkeypatch.setattr(llm, "acomplete", never)
    assert asyncio.run(nodes._hyde_passage(settings, "主要销售客户")) == ""


def test_a_failing_endpoint_gives_no_expansion(settings, monkeypatch):
    async def down(*a, **k):
        raise llm.LLMUnavailable("endpoint down")

    monkeypatch.setattr(llm, "acomplete", down)
    assert asyncio.run(nodes._hyde_passage(_with_llm(settings), "主要销售客户")) == ""


def test_the_passage_is_written_by_the_answer_model(settings, monkeypatch):
    roles = []

    async def write(settings, role, messages, **k):
        roles.append(role)
        return " 公司选定的信息披露媒体为上海证券报。 "

    monkeypatch.setattr(llm, "acomplete", write)
    assert asyncio.run(nodes._hyde_passage(_with_llm(settings), "哪里可以看到")) == "公司选定的信息披露媒体为上海证券报。"
    assert roles == ["answer"]


def test_the_hypothetical_passage_expands_the_query(settings, store):
    plain = search(settings, store, "哪里可以看到", company_code="603339", year=2019, k=3)
    hits = search(settings, store, "哪里可以看到", company_code="603339", year=2019, k=3,
                  expansion="公司选定的信息披露媒体为上海证券报、中国证券报。")
    assert 5 in [p.page for p in hits]  # 公司选定的信息披露媒体名称 上海证券报、中国证券报…
    assert [p.chunk_id for p in hits] != [p.chunk_id for p in plain]
