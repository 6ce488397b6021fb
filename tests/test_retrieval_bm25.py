"""BM25 retrieval scoped by company and year: tokenisation, scoping, the index cache, and that the
embedded path never imports the model stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.retrieval_corpus import REPO
from tools.retrieval import bm25, index_report, search
from tools.retrieval.models import local_dir
from tools.retrieval.query import strip_scope
from understanding.tokenize import default_tokenizer, tokenizer_for

SIFANG, JINYU = ("603339", 2019), ("600201", 2020)


@pytest.fixture
def store(chunk_store):
    return chunk_store


def test_domain_words_stay_whole_and_their_parts_are_searchable():
    tokens = default_tokenizer().tokens("归属于上市公司股东的净利润同比下降")
    assert "归属于上市公司股东的净利润" in tokens
    assert "净利润" in tokens  # search mode also emits the dictionary words inside
    assert "的" not in tokens  # stopword


def test_company_names_join_the_dictionary(store):
    assert "金宇生物技术股份有限公司" in tokenizer_for(store).tokens("金宇生物技术股份有限公司2020年年度报告")


def test_scope_words_are_removed_from_the_query():
    text = strip_scope("简要介绍金宇生物2020年的社会责任工作情况", ["金宇生物技术股份有限公司", "生物股份"])
    assert "金宇" not in text and "2020" not in text and "社会责任" in text


def test_search_stays_in_the_company_and_year(settings, store):
    hits = search(settings, store, "口蹄疫疫苗的研发", company_code=SIFANG[0], year=SIFANG[1], k=10)
    assert hits and all((p.company_code, p.year) == SIFANG for p in hits)
    jinyu = search(settings, store, "口蹄疫疫苗的研发", company_code=JINYU[0], year=JINYU[1], k=10)
    assert all((p.company_code, p.year) == JINYU for p in jinyu)


def test_search_returns_pages_and_bm25_ranks(settings, store):
    hits = search(settings, store, "四方科技2019年主要销售客户的集中度如何？", company_code=SIFANG[0], year=SIFANG[1], k=5)
    assert 13 in [p.page for p in hits]  # 前五名客户销售额 … 占年度销售总额 28.02%
    assert [p.ranks["bm25"] for p in hits] == sorted(p.ranks["bm25"] for p in hits)
    assert hits[0].citation() == {"page": hits[0].page, "text": hits[0].text}


def test_unknown_scope_returns_nothing(settings, store):
    assert search(settings, store, "社会责任", company_code="000000", year=2019, k=5) == []


def test_new_chunks_of_a_scope_are_picked_up(settings, store):
    report_id = next(r["id"] for r in store.reports() if r["company_code"] == SIFANG[0])
    assert 999 not in [p.page for p in search(settings, store, "氪星钛合金", company_code=SIFANG[0], year=SIFANG[1], k=3)]
    with store.transaction() as conn:
        store.add_chunks(conn, [dict(report_id=report_id, company_code=SIFANG[0], year=SIFANG[1], page=999,
                                     section="测试", text="公司研发了氪星钛合金罐体。")])
    hits = search(settings, store, "氪星钛合金", company_code=SIFANG[0], year=SIFANG[1], k=3)
    assert hits and hits[0].page == 999


def test_a_scope_index_is_reused_from_disk(settings, store, monkeypatch):
    search(settings, store, "社会责任", company_code=SIFANG[0], year=SIFANG[1], k=3)
    bm25.index_cache(settings).drop()  # a new process: nothing in memory

    def no_rebuild(*a, **k):
        raise AssertionError("the pickled index should have been loaded")

    monkeypatch.setattr(bm25, "build_index", no_rebuild)
    assert search(settings, store, "社会责任", company_code=SIFANG[0], year=SIFANG[1], k=3)


def test_index_report_builds_the_scope_without_models(settings, store):
    report_id = next(r["id"] for r in store.reports() if r["company_code"] == JINYU[0])
    out = index_report(settings, store, report_id)
    assert out["chunks"] == len(store.chunks(JINYU[0], JINYU[1])) and out["vectors"] == 0


def test_model_directories_must_be_local(tmp_path):
    with pytest.raises(FileNotFoundError):
        local_dir("BAAI/bge-large-zh-v1.5")  # a hub name is refused, never downloaded
    with pytest.raises(FileNotFoundError):
        local_dir(str(tmp_path))  # a directory without config.json


def test_embedded_retrieval_never_imports_the_model_stack(tmp_path):
    code = f"""
import sys
from knowledge.configuration import Settings
from knowledge.store import Store
from benchmarks.retrieval_corpus import SAMPLE_PDF, load_report, page_chunks
from tools.retrieval import search
s = Settings(home=r"{tmp_path}")
s.ensure_home()
store = Store(s.db_url)
load_report(store, SAMPLE_PDF, chunks=[{{"page": 1, "section": None, "text": "社会责任工作情况"}}])
assert search(s, store, "社会责任", company_code="603339", year=2019, k=1)
heavy = [m for m in ("torch", "chromadb", "transformers") if m in sys.modules]
assert not heavy, heavy
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_compressed_scores_equal_rank_bm25():
    import numpy as np
    from rank_bm25 import BM25Okapi

    docs = [["社会责任", "扶贫", "捐赠"], ["客户", "集中度", "客户"], ["扶贫", "客户"], ["研发", "投入"], ["研发"]]
    rows = [dict(id=i, report_id=1, company_code="603339", year=2019, page=i, section=None, text=" ".join(d))
            for i, d in enumerate(docs)]

    class Split:
        def tokens(self, text):
            return text.split()

    index = bm25.build_index(rows, Split(), signature=("t",))
    for query in (["客户"], ["扶贫", "客户", "客户"], ["研发", "不存在"]):
        ours, _ = index.scores(query)
        assert np.allclose(ours, BM25Okapi(docs).get_scores(query))
