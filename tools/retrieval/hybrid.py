"""The retrieval pipeline: scope → BM25 (+ dense) → reciprocal rank fusion → rerank → top k.

Every stage beyond BM25 is optional and configured by settings alone: dense when an embedding model
directory is set (and the report was indexed into Chroma), rerank when a reranker directory is set,
and the HyDE ``expansion`` when the caller passes one (the graph writes it with the answer model). A failing
optional stage is logged and skipped; BM25 always answers.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

import tools.retrieval.bm25 as bm25
import tools.retrieval.dense as dense
import tools.retrieval.rerank as rerank
import tools.retrieval.vector_store as vector_store
from tools.retrieval.fusion import reciprocal_rank_fusion
from tools.retrieval.passage import Passage
from tools.retrieval.query import query_tokens
from understanding.tokenize import tokenizer_for

log = logging.getLogger(__name__)

# Candidates per retriever before fusion, and how many fused candidates the cross-encoder reads.
CANDIDATES = 50
RERANK_CANDIDATES = 20


def company_names(store, company_code: str | None) -> list[str]:
    company = store.company(company_code) if company_code else None
    return [n for n in (company.full_name, company.short_name, *company.aliases) if n] if company else []


def search(settings, store, query: str, *, company_code: str | None, year: int | None, k: int | None = None,
           expansion: str = "") -> list[Passage]:
    """The top ``k`` passages of the company's report for ``year`` (all its years when ``year`` is
    None). Without a company there is no scope, and searching the whole corpus is not offered: [].
    ``expansion`` (HyDE: a hypothetical passage) adds the words a report would use to the query."""
    k = k or settings.retrieval.top_k
    if not company_code:
        return []
    tokenizer = tokenizer_for(store)
    names = company_names(store, company_code)
    tokenizer.add_words(names)
    index = bm25.index_cache(settings).get(store, tokenizer, company_code, year)
    if not index.passages:
        return []
    tokens = query_tokens(tokenizer, query, company_names=names, expansion=expansion)
    lists: dict[str, list[Passage]] = {"bm25": index.search(tokens, CANDIDATES)}
    dense_hits = _dense(settings, index, query, expansion, company_code, year)
    if dense_hits:
        lists["dense"] = dense_hits
    ranked = reciprocal_rank_fusion(lists) if len(lists) > 1 else lists["bm25"]
    return _rerank(settings, query, ranked)[:k]


def _dense(settings, index: bm25.ScopeIndex, query: str, expansion: str, company_code, year) -> list[Passage]:
    try:
        model = dense.embedder(settings)
        if model is None:
            return []
        vector = model.embed_queries([f"{query}\n{expansion}" if expansion else query])[0]
        col = vector_store.collection(settings, model.name)
        ids = vector_store.nearest(col, vector, company_code=company_code, year=year, n=CANDIDATES)
    except Exception as exc:
        log.warning("dense retrieval skipped: %s", exc)
        return []
    by_id = {p.chunk_id: p for p in index.passages}
    hits = [by_id[i] for i in ids if i in by_id]  # ids of chunks since re-ingested are dropped
    return [p.with_score(0.0, dense=r) for r, p in enumerate(hits, 1)]


def _rerank(settings, query: str, ranked: list[Passage]) -> list[Passage]:
    if not ranked:
        return ranked
    try:
        model = rerank.reranker(settings)
        if model is None:
            return ranked
        head = model.rerank(query, ranked[:RERANK_CANDIDATES])
    except Exception as exc:
        log.warning("rerank skipped: %s", exc)
        return ranked
    return head + ranked[RERANK_CANDIDATES:]


def index_report(settings, store, report_id: int) -> dict:
    """Index one report's chunks: its BM25 scope (always, so the first question is fast) and, when an
    embedding model is configured, its vectors in Chroma. Returns what was indexed."""
    reports = store.t["reports"]
    with store.engine.connect() as c:
        report = c.execute(select(reports.c.company_code, reports.c.year).where(reports.c.id == report_id)).first()
    if report is None:
        raise KeyError(f"no report {report_id}")
    code, year = report
    tokenizer = tokenizer_for(store)
    tokenizer.add_words(company_names(store, code))
    index = bm25.index_cache(settings).get(store, tokenizer, code, year)
    out = {"report_id": report_id, "chunks": len([p for p in index.passages if p.report_id == report_id]), "vectors": 0}
    model = dense.embedder(settings)
    if model is None:
        return out
    chunks = store.t["chunks"]
    with store.engine.connect() as c:
        rows = [dict(r) for r in c.execute(select(chunks).where(chunks.c.report_id == report_id).order_by(chunks.c.id)).mappings()]
    vectors = model.embed_passages([bm25.index_text(r) for r in rows]) if rows else []
    vector_store.replace_report(vector_store.collection(settings, model.name), report_id, rows, vectors)
    out["vectors"] = len(vectors)
    return out
