"""Cross-encoder rerank with FlagEmbedding's ``FlagReranker`` from ``settings.retrieval.reranker_model_dir``
(bge-reranker-large or bge-reranker-v2-m3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.retrieval.models import load_once, use_fp16
from tools.retrieval.passage import Passage

MAX_LENGTH = 512
BATCH = 32


@dataclass
class Reranker:
    model: Any

    def scores(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        out = self.model.compute_score([[query, t] for t in texts], batch_size=BATCH, max_length=MAX_LENGTH)
        return [float(out)] if isinstance(out, (int, float)) else [float(s) for s in out]

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        scores = self.scores(query, [p.text for p in passages])
        order = sorted(range(len(passages)), key=lambda i: -scores[i])
        return [passages[i].with_score(scores[i], rerank=r) for r, i in enumerate(order, 1)]


def _load(directory: str) -> Reranker:
    from FlagEmbedding import FlagReranker

    return Reranker(FlagReranker(directory, use_fp16=use_fp16()))


def reranker(settings) -> Reranker | None:
    path = settings.retrieval.reranker_model_dir
    return load_once("reranker", path, _load) if path else None
