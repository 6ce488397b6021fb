"""BM25 over one scope (a company's report for a year): the sparse retriever.

A question names its company and year, so it searches one report's few hundred chunks, never the
corpus. A scope's index is built once and kept twice: in memory (LRU) and on disk under
``<home>/bm25/`` (pickled postings and BM25 statistics), so a cold scope costs an unpickle, not a
re-tokenisation. Both are keyed by a signature of the scope's chunks (count, max id), checked with one
indexed query per search, so re-ingested reports are picked up without any invalidation call.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi
from sqlalchemy import func, select

from tools.retrieval.passage import Passage

MEMORY_SCOPES = 64
FORMAT = 2  # bump when the pickled layout or the tokenisation changes


@dataclass
class ScopeIndex:
    """One scope's passages and BM25 statistics in compressed-postings form.

    rank_bm25's ``BM25Okapi`` computes the statistics (IDF with its epsilon floor, document lengths,
    k1, b); scoring then touches only the passages that contain a query term, with numpy, instead of a
    Python loop over every passage per term, and the pickle holds flat arrays instead of a dict per
    passage. Scores equal ``BM25Okapi.get_scores`` (tested).
    """

    signature: tuple
    passages: list[Passage]
    vocab: dict[str, int] = field(default_factory=dict)
    idf: np.ndarray | None = None  # per term id
    ptr: np.ndarray | None = None  # postings of term t: [ptr[t], ptr[t + 1])
    docs: np.ndarray | None = None  # passage index of each posting
    tf: np.ndarray | None = None  # term frequency of each posting
    norm: np.ndarray | None = None  # per passage: k1 * (1 - b + b * len / avglen)
    k1: float = 1.5

    def scores(self, query_tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(scores of all passages, mask of passages sharing a query term)."""
        scores = np.zeros(len(self.passages))
        hit = np.zeros(len(self.passages), dtype=bool)
        for token, times in Counter(query_tokens).items():
            t = self.vocab.get(token)
            if t is None:
                continue
            lo, hi = self.ptr[t], self.ptr[t + 1]
            docs, tf = self.docs[lo:hi], self.tf[lo:hi]
            # A repeated query token counts once per occurrence, as in rank_bm25.
            scores[docs] += times * self.idf[t] * tf * (self.k1 + 1) / (tf + self.norm[docs])
            hit[docs] = True
        return scores, hit

    def search(self, query_tokens: list[str], k: int) -> list[Passage]:
        if self.ptr is None or not query_tokens:
            return []
        scores, hit = self.scores(query_tokens)
        # A passage must share a query term. Not "score > 0": rank_bm25 floors the IDF of a term found
        # in most passages of a small scope to a tiny or negative value, which would hide a real match.
        candidates = np.flatnonzero(hit)
        order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        return [self.passages[i].with_score(float(scores[i]), bm25=r) for r, i in enumerate(order, 1)]


def compress(bm25: BM25Okapi) -> dict:
    """Flat postings arrays from a fitted ``BM25Okapi``."""
    vocab = {term: i for i, term in enumerate(bm25.idf)}
    postings: list[list[tuple[int, int]]] = [[] for _ in vocab]
    for d, freqs in enumerate(bm25.doc_freqs):
        for term, f in freqs.items():
            postings[vocab[term]].append((d, f))
    ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(p) for p in postings])
    flat = [x for p in postings for x in p]
    doc_len = np.asarray(bm25.doc_len, dtype=np.float64)
    return {
        "vocab": vocab,
        "idf": np.asarray([bm25.idf[t] for t in vocab], dtype=np.float64),
        "ptr": ptr,
        "docs": np.asarray([d for d, _ in flat], dtype=np.int32),
        "tf": np.asarray([f for _, f in flat], dtype=np.float64),
        "norm": bm25.k1 * (1 - bm25.b + bm25.b * doc_len / bm25.avgdl),
        "k1": bm25.k1,
    }


def index_text(row: dict) -> str:
    """What BM25 sees of a chunk: its section heading, then its text (headings name the topic)."""
    section, text = row.get("section") or "", row["text"]
    return text if not section or text.startswith(section) else f"{section}\n{text}"


def scope_filter(store, company_code: str | None, year: int | None):
    """WHERE clause for a scope's chunks, through the indexed ``report_id`` column."""
    chunks, reports = store.t["chunks"], store.t["reports"]
    ids = select(reports.c.id)
    if company_code:
        ids = ids.where(reports.c.company_code == company_code)
    if year:
        ids = ids.where(reports.c.year == year)
    return chunks.c.report_id.in_(ids)


def scope_signature(store, company_code: str | None, year: int | None) -> tuple:
    chunks = store.t["chunks"]
    with store.engine.connect() as c:
        count, max_id = c.execute(
            select(func.count(), func.max(chunks.c.id)).where(scope_filter(store, company_code, year))
        ).one()
    return (FORMAT, int(count), int(max_id or 0))


def scope_rows(store, company_code: str | None, year: int | None) -> list[dict]:
    chunks = store.t["chunks"]
    q = select(chunks).where(scope_filter(store, company_code, year)).order_by(chunks.c.id)
    with store.engine.connect() as c:
        return [dict(r) for r in c.execute(q).mappings()]


def build_index(rows: list[dict], tokenizer, signature: tuple) -> ScopeIndex:
    passages = [Passage.from_row(r) for r in rows]
    docs = [tokenizer.tokens(index_text(r)) for r in rows]
    # rank_bm25 divides by the corpus size and mean length; an empty scope has neither.
    if not docs or not any(docs):
        return ScopeIndex(signature, passages)
    return ScopeIndex(signature, passages, **compress(BM25Okapi(docs)))


class IndexCache:
    """Scope indexes in memory (LRU) over pickles in ``directory``."""

    def __init__(self, directory: Path, capacity: int = MEMORY_SCOPES):
        self.directory = directory
        self.capacity = capacity
        self._memory: OrderedDict[tuple, ScopeIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store, tokenizer, company_code: str | None, year: int | None) -> ScopeIndex:
        key = (store.url, company_code, year)
        signature = scope_signature(store, company_code, year)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None and hit.signature == signature:
                self._memory.move_to_end(key)
                return hit
        index = self._load(key, signature)
        if index is None:
            index = build_index(scope_rows(store, company_code, year), tokenizer, signature)
            self._save(key, index)
        with self._lock:
            self._memory[key] = index
            self._memory.move_to_end(key)
            while len(self._memory) > self.capacity:
                self._memory.popitem(last=False)
        return index

    def drop(self) -> None:
        with self._lock:
            self._memory.clear()

    def _path(self, key: tuple) -> Path:
        url, code, year = key
        digest = hashlib.sha1(url.encode()).hexdigest()[:10]
        return self.directory / digest / f"{code or 'all'}_{year or 'all'}.pkl"

    def _load(self, key: tuple, signature: tuple) -> ScopeIndex | None:
        path = self._path(key)
        try:
            with path.open("rb") as fh:
                index = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None
        return index if isinstance(index, ScopeIndex) and index.signature == signature else None

    def _save(self, key: tuple, index: ScopeIndex) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # readers never see half a file


_CACHES: dict[Path, IndexCache] = {}
_CACHES_LOCK = threading.Lock()


def index_cache(settings) -> IndexCache:
    directory = Path(settings.home) / "bm25"
    with _CACHES_LOCK:
        return _CACHES.setdefault(directory, IndexCache(directory))
