"""HyDE: used when an LLM endpoint is configured, silently skipped when it fails or is absent."""

from __future__ import annotations

import pytest

from agent.configuration import Settings
from agent.store import Store
from benchmarks.retrieval_corpus import SAMPLE_PDF, load_report
from tools.retrieval import hyde, search


@pytest.fixture
def store(settings) -> Store:
    settings.ensure_home()
    s = Store(settings.db_url)
    load_report(s, SAMPLE_PDF)
    return s


def _with_llm(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm": settings.llm.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})})


def test_no_endpoint_no_call(settings, store, monkeypatch):
    monkeypatch.setattr(hyde, "_generate", lambda *a: pytest.fail("no endpoint: HyDE must not call"))
    assert search(settings, store, "主要销售客户", company_code="603339", year=2019, k=3)


def test_a_failing_endpoint_falls_back_to_the_plain_query(settings, store, monkeypatch):
    def down(*a):
        raise ConnectionError("endpoint down")

    monkeypatch.setattr(hyde, "_generate", down)
    plain = search(settings, store, "主要销售客户", company_code="603339", year=2019, k=3)
    fallback = search(_with_llm(settings), store, "主要销售客户", company_code="603339", year=2019, k=3)
    assert [p.chunk_id for p in fallback] == [p.chunk_id for p in plain]


def test_the_hypothetical_passage_expands_the_query(settings, store, monkeypatch):
    monkeypatch.setattr(hyde, "_generate", lambda s, q: "公司选定的信息披露媒体为上海证券报、中国证券报。")
    hits = search(_with_llm(settings), store, "哪里可以看到", company_code="603339", year=2019, k=3)
    assert 5 in [p.page for p in hits]  # 公司选定的信息披露媒体名称 上海证券报、中国证券报…
