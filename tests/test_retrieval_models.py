"""The dense, Chroma and rerank path through the real transformers and chromadb code, on tiny BERT
models with random weights built here (scores mean nothing; loading, pooling, indexing, scoping and
fusion are real). Needs the ``models`` extra: skipped without it, failed in CI (tests/optional.py)."""

from __future__ import annotations

import logging
import math
import sys

import pytest
from optional import require_module

torch = require_module("torch", "models")
transformers = require_module("transformers", "models")
chromadb = require_module("chromadb", "models")

from benchmarks.retrieval_corpus import (  # noqa: E402
    SAMPLE_PDF,
    SECOND_PDF,
    cached_chunks,
    load_report,
)
from benchmarks.retrieval_tiny_models import build_tiny_models  # noqa: E402
from knowledge.configuration import Settings  # noqa: E402
from knowledge.extras import MissingExtra  # noqa: E402
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


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=1e-5) for x, y in zip(a, b))


def _bge_vector(directory, text: str) -> list[float]:
    """BGE's dense vector computed here from the bare transformers model: [CLS] state, unit norm."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory))
    model = transformers.AutoModel.from_pretrained(str(directory)).eval()
    with torch.no_grad():
        cls = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0, 0]
    return (cls / cls.norm()).tolist()


def test_bge_zh_embeds_the_cls_token_normalised_with_the_query_instruction(fused, tiny):
    model = dense.embedder(fused)
    assert not model.m3 and isinstance(model.encoder.model, transformers.BertModel)
    query, passage = "主要销售客户的集中度", "前五名客户销售额占年度销售总额28.02%"
    [q] = model.embed_queries([query])
    [p] = model.embed_passages([passage])
    assert len(q) == 32 and math.isclose(sum(x * x for x in q), 1.0, rel_tol=1e-4)
    assert _close(q, _bge_vector(tiny["embedder"], dense.ZH_QUERY_INSTRUCTION + query))
    assert _close(p, _bge_vector(tiny["embedder"], passage))  # passages go in without the instruction


def test_padding_in_a_batch_leaves_each_vector_as_it_is_alone(fused):
    model = dense.embedder(fused)
    texts = ["研发投入", "前五名客户销售额占年度销售总额28.02%，公司不存在向单个客户的销售比例超过总额50%的情况"]
    together = model.embed_passages(texts)
    assert all(_close(v, model.embed_passages([t])[0]) for v, t in zip(together, texts))


def test_bge_m3_directory_loads_as_m3_without_the_instruction(tmp_path, tiny):
    settings = Settings(home=tmp_path, retrieval={"embedding_model_dir": str(tiny["m3"])})
    model = dense.embedder(settings)
    assert model.m3 and model.query_instruction == ""
    [q] = model.embed_queries(["研发投入"])
    assert len(q) == 32 and _close(q, _bge_vector(tiny["m3"], "研发投入"))


def test_reranker_scores_are_the_cross_encoders_logits(fused, tiny):
    model = rerank.reranker(fused)
    texts = ["研发投入合计48,428,964.78元", "社会责任", "控股股东"] * 11  # 33: more than one batch
    scores = model.scores("研发投入", texts)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tiny["reranker"]))
    cross = transformers.AutoModelForSequenceClassification.from_pretrained(str(tiny["reranker"])).eval()
    with torch.no_grad():
        expected = [cross(**tokenizer("研发投入", t, return_tensors="pt")).logits[0, 0].item() for t in texts[:3]]
    assert len(scores) == 33 and _close(scores[:3], expected) and _close(scores[30:], expected)
    assert model.scores("研发投入", []) == []


def test_without_the_models_extra_the_loaders_name_it_and_search_keeps_bm25(tmp_path, store, monkeypatch, caplog):
    bare = tmp_path / "bge-without-torch"  # a directory no earlier test loaded, so nothing is cached
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    settings = Settings(home=tmp_path / "home", retrieval={"embedding_model_dir": str(bare), "reranker_model_dir": str(bare)})
    monkeypatch.setitem(sys.modules, "torch", None)  # as on an install without the extra
    for load in (dense.embedder, rerank.reranker):
        with pytest.raises(MissingExtra) as exc:
            load(settings)
        assert (exc.value.extra, exc.value.module) == ("models", "torch")
        assert 'pip install -e ".[models]"' in str(exc.value)
    with caplog.at_level(logging.WARNING, logger="tools.retrieval.hybrid"):
        hits = search(settings, store, "主要销售客户", company_code=SIFANG[0], year=SIFANG[1], k=3)
    assert hits and all(set(p.ranks) == {"bm25"} for p in hits)
    assert sum('".[models]"' in r.getMessage() for r in caplog.records) == 2  # dense and rerank skipped


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


# The helper the module's imports go through (tests/optional.py).

def test_a_missing_optional_module_fails_in_ci_and_skips_elsewhere(monkeypatch):
    from optional import require_module

    assert require_module("math", "models") is sys.modules["math"]
    monkeypatch.setitem(sys.modules, "nianbao_not_installed", None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r'nianbao_not_installed.*pip install -e "\.\[models\]"'):
        require_module("nianbao_not_installed", "models")
    for unset in ("", "false", "0"):
        monkeypatch.setenv("CI", unset)
        with pytest.raises(pytest.skip.Exception, match="nianbao_not_installed"):
            require_module("nianbao_not_installed", "models")
