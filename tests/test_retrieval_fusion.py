"""Reciprocal rank fusion."""

from __future__ import annotations

import pytest

from tools.retrieval.fusion import RRF_K, reciprocal_rank_fusion
from tools.retrieval.passage import Passage


def _p(cid: int) -> Passage:
    return Passage(chunk_id=cid, report_id=1, company_code="603339", year=2019, page=cid, section=None, text=str(cid))


def test_a_passage_found_by_both_lists_wins():
    fused = reciprocal_rank_fusion({"bm25": [_p(1), _p(2), _p(3)], "dense": [_p(3), _p(4)]})
    assert fused[0].chunk_id == 3
    assert fused[0].score == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert fused[0].ranks == {"bm25": 3, "dense": 1}


def test_fusion_keeps_every_passage_once_ordered_by_score():
    fused = reciprocal_rank_fusion({"bm25": [_p(1), _p(2)], "dense": [_p(2), _p(5)]})
    assert sorted(p.chunk_id for p in fused) == [1, 2, 5]
    assert [p.score for p in fused] == sorted((p.score for p in fused), reverse=True)


def test_one_list_keeps_its_order():
    assert [p.chunk_id for p in reciprocal_rank_fusion({"bm25": [_p(7), _p(3), _p(9)]})] == [7, 3, 9]
