"""Reciprocal rank fusion: merge ranked lists by rank alone, so BM25 and cosine scores need no
calibration against each other (Cormack et al., 2009; k = 60 as there)."""

from __future__ import annotations

from collections.abc import Sequence

from tools.retrieval.passage import Passage

RRF_K = 60


def reciprocal_rank_fusion(lists: dict[str, Sequence[Passage]], k: int = RRF_K) -> list[Passage]:
    """One list, best first; each passage keeps its rank in every list that found it."""
    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    first: dict[int, Passage] = {}
    for name, passages in lists.items():
        for rank, p in enumerate(passages, 1):
            scores[p.chunk_id] = scores.get(p.chunk_id, 0.0) + 1.0 / (k + rank)
            ranks.setdefault(p.chunk_id, {})[name] = rank
            first.setdefault(p.chunk_id, p)
    order = sorted(scores, key=lambda cid: -scores[cid])
    return [first[cid].with_score(scores[cid], **ranks[cid]) for cid in order]
