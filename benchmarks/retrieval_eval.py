"""Recall@1, recall@5 and MRR of retrieval on the labelled set ``tests/data/retrieval_gold.jsonl``.

    .venv/bin/python -m benchmarks.retrieval_eval            # BM25 + scoping
    .venv/bin/python -m benchmarks.retrieval_eval --tiny     # + dense and rerank on tiny random models

A question counts as found at rank r when the r-th passage is on one of its gold pages. The tiny-model
run only proves the fused pipeline's plumbing (random weights): its figures are not a quality measure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.retrieval_corpus import (
    SAMPLE_PDF,
    SECOND_PDF,
    load_gold,
    load_report,
    report_chunks,
)
from knowledge.configuration import Settings
from knowledge.store import Store


def evaluate(settings, store, gold: list[dict], *, k: int = 5, verbose: bool = False) -> dict:
    from tools.retrieval import search

    hits1 = hits5 = 0
    rr = 0.0
    misses = []
    started = time.perf_counter()
    for q in gold:
        passages = search(settings, store, q["question"], company_code=q["company_code"], year=q["year"], k=k)
        rank = next((i for i, p in enumerate(passages, 1) if p.page in q["pages"]), None)
        if rank == 1:
            hits1 += 1
        if rank is not None:
            hits5 += 1
            rr += 1.0 / rank
        else:
            misses.append((q["id"], q["question"], q["pages"], [p.page for p in passages]))
    n = len(gold)
    out = {
        "questions": n,
        "recall@1": hits1 / n,
        f"recall@{k}": hits5 / n,
        "mrr": rr / n,
        "ms_per_query": 1000 * (time.perf_counter() - started) / n,
    }
    if verbose:
        for m in misses:
            print("  miss", *m)
    return out


def build_store(home: Path, *, own_chunker: bool = False) -> Store:
    settings = Settings(home=home)
    settings.ensure_home()
    store = Store(settings.db_url)
    for pdf in (SAMPLE_PDF, SECOND_PDF):
        load_report(store, pdf, chunks=report_chunks(pdf, own=own_chunker))
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="also run dense + rerank on tiny random BERT models")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    ap.add_argument("--own-chunker", action="store_true",
                    help="chunk with benchmarks.retrieval_corpus.page_chunks instead of ingestion.chunks")
    args = ap.parse_args()
    gold = load_gold()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        store = build_store(home, own_chunker=args.own_chunker)
        settings = Settings(home=home)
        chunker = "own page_chunks" if args.own_chunker else "ingestion.chunks"
        print(f"chunks: {sum(1 for _ in store.chunks())} ({chunker})")
        print("BM25 + scoping:", _fmt(evaluate(settings, store, gold, verbose=args.verbose)))
        if args.tiny:
            from benchmarks.retrieval_tiny_models import build_tiny_models
            from tools.retrieval import index_report

            emb, rer = build_tiny_models(Path(tmp) / "models")
            fused = Settings(home=home, retrieval={"embedding_model_dir": str(emb), "reranker_model_dir": str(rer)})
            for report in store.reports():
                index_report(fused, store, report["id"])
            print("fused (tiny random models, plumbing only):", _fmt(evaluate(fused, store, gold, verbose=False)))


def _fmt(r: dict) -> str:
    return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())


if __name__ == "__main__":
    main()
