"""Cross-encoder rerank with a BGE reranker (bge-reranker-large or bge-reranker-v2-m3) from
``settings.retrieval.reranker_model_dir``, on plain transformers: the (query, passage) pair through
``AutoModelForSequenceClassification``, its single logit the score (higher is more relevant), as
FlagEmbedding's ``FlagReranker.compute_score`` returned it."""

from __future__ import annotations

from dataclasses import dataclass

from tools.retrieval.models import LocalModel, load_local, load_once
from tools.retrieval.passage import Passage

MAX_LENGTH = 512
BATCH = 32


@dataclass
class Reranker:
    encoder: LocalModel

    def scores(self, query: str, texts: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), BATCH):
            part = texts[start:start + BATCH]
            logits = self.encoder.forward([query] * len(part), part, max_length=MAX_LENGTH).logits
            out += logits[:, 0].float().tolist()
        return out

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        scores = self.scores(query, [p.text for p in passages])
        order = sorted(range(len(passages)), key=lambda i: -scores[i])
        return [passages[i].with_score(scores[i], rerank=r) for r, i in enumerate(order, 1)]


def _load(directory: str) -> Reranker:
    encoder = load_local(directory, "AutoModelForSequenceClassification", "rerank (retrieval.reranker_model_dir)")
    labels = encoder.model.config.num_labels
    if labels != 1:  # a classifier with several labels has no single relevance score to sort by
        raise ValueError(f"not a cross-encoder reranker (num_labels={labels}): {directory}")
    return Reranker(encoder)


def reranker(settings) -> Reranker | None:
    path = settings.retrieval.reranker_model_dir
    return load_once("reranker", path, _load) if path else None
