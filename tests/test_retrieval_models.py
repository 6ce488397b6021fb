"""The dense, Chroma and rerank path through the real FlagEmbedding and chromadb code, on tiny BERT
models with random weights built here (scores mean nothing; loading, indexing, scoping and fusion
are real). Skipped where the ``models`` extra is not installed."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")
pytest.importorskip("FlagEmbedding")
chromadb = pytest.importorskip("chromadb")

from benchmarks.retrieval_corpus import (  # noqa: E402
    SAMPLE_PDF,
    SECOND_PDF,
    cached_chunks,
    load_report,
)
from benchmarks.retrieval_tiny_models import build_tiny_models  # noqa: E402
from knowledge.configuration import Settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from tools.retrieval import dense, index_report, rerank, search, vector_store  # noqa: E402

SIFANG = ("603339", 2019)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    texts = [c["text"] for pdf in (SAMPLE_PDF, SECOND_PDF) for c in cached_chunks(pdf)]
    root = tmp_path_factory.mktemp("tiny-models")
    emb, rer = build_tiny_models(root / "zh", texts)
    m3, _ = build_tiny_models(root / "m3", texts, m3=True)
    return {"embedder": emb, "reranker": rer, "m3": m3}


@pytest.fixture
def fused(tmp_path, tiny) -> Settings:
    return Settings(home=tmp_path / "home", retrieval={
        "embedding_model_dir": str(tiny["embedder"]), "reranker_model_dir": str(tiny["reranker"])})


@pytest.fixture
def store(fused) -> Store:
    fused.ensure_home()
    s = Store(fused.db_url)
    # Enough text for scoping and ranking to matter, few enough chunks to embed in seconds.
    load_report(s, SAMPLE_PDF, chunks=list(cached_chunks(SAMPLE_PDF))[:160])
    load_report(s, SECOND_PDF, chunks=list(cached_chunks(SECOND_PDF))[:40])
    return s


@pytest.fixture(autouse=True)
def _no_default_embedding_function(monkeypatch):
    """Chroma's default embedding function downloads a model: any call fails the test."""
    from chromadb.utils import embedding_functions

    def refuse(*a, **k):
        raise AssertionError("Chroma's default embedding function was used")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", refuse)


def test_bge_zh_loads_as_flag_model_with_normalised_vectors(fused):
    model = dense.embedder(fused)
    from FlagEmbedding import FlagModel

    assert not model.m3 and isinstance(model.model, FlagModel)
    q = model.embed_queries(["主要销售客户的集中度"])[0]
    p = model.embed_passages(["前五名客户销售额占年度销售总额28.02%", "社会责任工作情况"])
    assert len(q) == 32 and len(p) == 2 and math.isclose(sum(x * x for x in q), 1.0, rel_tol=1e-4)


def test_bge_m3_directory_loads_as_m3(tmp_path, tiny):
    settings = Settings(home=tmp_path, retrieval={"embedding_model_dir": str(tiny["m3"])})
    model = dense.embedder(settings)
    from FlagEmbedding import BGEM3FlagModel

    assert model.m3 and isinstance(model.model, BGEM3FlagModel)
    assert len(model.embed_queries(["研发投入"])[0]) == 32


def test_reranker_scores_every_pair(fused):
    scores = rerank.reranker(fused).scores("研发投入", ["研发投入合计48,428,964.78元", "社会责任", "控股股东"])
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)


def test_index_report_puts_the_chunks_into_chroma_once(fused, store):
    report_id = next(r["id"] for r in store.reports() if r["company_code"] == SIFANG[0])
    n = len(store.chunks(*SIFANG))
    assert index_report(fused, store, report_id)["vectors"] == n
    col = vector_store.collection(fused, dense.embedder(fused).name)
    assert col.count() == n
    index_report(fused, store, report_id)  # re-indexing replaces, never duplicates
    assert col.count() == n


def test_fused_search_runs_dense_and_rerank_within_the_scope(fused, store):
    for report in store.reports():
        index_report(fused, store, report["id"])  # both scopes share the collection
    hits = search(fused, store, "四方科技2019年主要销售客户的集中度如何？", company_code=SIFANG[0], year=SIFANG[1], k=5)
    assert len(hits) == 5 and all((p.company_code, p.year) == SIFANG for p in hits)
    assert [p.ranks["rerank"] for p in hits] == [1, 2, 3, 4, 5]
    assert any("dense" in p.ranks for p in hits) or any("bm25" in p.ranks for p in hits)
    col = vector_store.collection(fused, dense.embedder(fused).name)
    vector = dense.embedder(fused).embed_queries(["社会责任"])[0]
    ids = vector_store.nearest(col, vector, company_code=SIFANG[0], year=SIFANG[1], n=20)
    own = {c["id"] for c in store.chunks(*SIFANG)}
    assert ids and set(ids) <= own  # Chroma filters by company and year before ranking


def test_a_missing_model_directory_degrades_to_bm25(tmp_path, fused, store):
    nowhere = str(tmp_path / "nope")
    broken = fused.model_copy(update={"retrieval": fused.retrieval.model_copy(
        update={"embedding_model_dir": nowhere, "reranker_model_dir": nowhere})})
    hits = search(broken, store, "主要销售客户", company_code=SIFANG[0], year=SIFANG[1], k=3)
    assert hits and all(set(p.ranks) == {"bm25"} for p in hits)


def test_a_chroma_url_selects_the_http_client(tmp_path, monkeypatch):
    calls = {}
    monkeypatch.setattr(chromadb, "HttpClient", lambda **kw: calls.update(kw) or "http-client")
    settings = Settings(home=tmp_path, retrieval={"chroma_url": "https://chroma.internal:8443"})
    assert vector_store.client(settings) == "http-client"
    assert (calls["host"], calls["port"], calls["ssl"]) == ("chroma.internal", 8443, True)
