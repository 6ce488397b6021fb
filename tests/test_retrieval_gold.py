"""The labelled retrieval set: well formed, and BM25 with scoping finds a gold page in the top 5 for
at least 90% of its questions."""

from __future__ import annotations

import pytest

from benchmarks.retrieval_corpus import (
    SAMPLE_PDF,
    SECOND_PDF,
    load_gold,
    load_report,
    pdf_pages,
    report_meta,
)
from benchmarks.retrieval_eval import evaluate
from knowledge.store import Store


@pytest.fixture(scope="module")
def gold() -> list[dict]:
    return load_gold()


def test_gold_set_covers_both_reports_with_real_pages(gold):
    assert len(gold) >= 60
    pages = {report_meta(p).code: len(pdf_pages(p)) for p in (SAMPLE_PDF, SECOND_PDF)}
    assert {q["company_code"] for q in gold} == set(pages)
    for q in gold:
        assert q["question"] and q["pages"], q
        assert all(1 <= p <= pages[q["company_code"]] for p in q["pages"]), q
    assert len({q["question"] for q in gold}) == len(gold)


def test_bm25_with_scoping_reaches_recall_at_5_of_90_percent(settings, gold):
    settings.ensure_home()
    store = Store(settings.db_url)
    for pdf in (SAMPLE_PDF, SECOND_PDF):
        load_report(store, pdf)
    result = evaluate(settings, store, gold, k=5)
    assert result["recall@5"] >= 0.9, result
    assert result["mrr"] >= 0.7, result
