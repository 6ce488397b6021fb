"""Embedded-mode answers: extracted from the retrieved passages (with their pages) or the glossary."""

from __future__ import annotations

import re

import pytest

from tools.glossary import answer_concept
from tools.retrieval import answer_open_question, search
from tools.retrieval.extractive import open_answer, sentences
from tools.retrieval.passage import Passage


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def store(chunk_store):
    return chunk_store


def test_open_answer_quotes_the_passages_in_document_order(settings, store):
    q = "简要介绍金宇生物2020年的社会责任工作情况"
    passages = search(settings, store, q, company_code="600201", year=2020, k=5)
    answer = open_answer(q, passages, company_names=["金宇生物技术股份有限公司", "生物股份"])
    assert "捐赠" in answer.text and 44 in [c["page"] for c in answer.citations]
    cited = {c["page"]: _flat(c["text"]) for c in answer.citations}
    for sentence in re.findall(r"[^。；！？]+[。；！？]", answer.text):
        assert any(_flat(sentence).rstrip("。") in t for t in cited.values()), sentence
    pages = [c["page"] for c in answer.citations]
    assert pages == sorted(pages)


def test_open_answer_without_passages_is_empty():
    answer = open_answer("社会责任", [])
    assert answer.text == "" and answer.citations == []


def test_open_answer_falls_back_to_the_best_passage_when_nothing_matches():
    p = Passage(1, 1, "603339", 2019, 7, None, "公司主营业务是食品冷冻设备及罐式集装箱的研发、生产和销售。")
    answer = open_answer("完全无关的提问词汇", [p])
    assert answer.text.startswith("公司主营业务") and answer.citations[0]["page"] == 7


def test_checkbox_markup_and_bare_headings_are_not_sentences():
    out = sentences("十七、积极履行社会责任的工作情况\n√适用 □不适用公司一直秉承“致力健康事业”的企业愿景。")
    assert out == ["公司一直秉承“致力健康事业”的企业愿景。"]


def test_answer_open_question_for_the_graph(settings, store):
    result = answer_open_question(settings, store, "简要介绍金宇生物2020年的社会责任工作情况", company_code="600201",
                                  year=2020)
    assert result.kind == "passages" and result.text
    assert len(result.passages) == settings.retrieval.top_k
    assert all({"page", "text"} <= set(c) for c in result.citations)


def test_answer_open_question_refuses_without_text(settings, store):
    result = answer_open_question(settings, store, "社会责任", company_code="000001", year=2020,
                                  company_label="平安银行")
    assert result.kind == "refusal" and result.missing == ["平安银行2020年年报"]


def test_concept_answer_is_the_glossary_definition():
    answer = answer_concept("无形资产是指什么？")
    assert answer.text.startswith("无形资产：") and "可辨认非货币性资产" in answer.text
    assert answer.citations[0]["source"] == "glossary"
    result = answer_concept("什么是速动比率？")
    assert result.kind == "glossary" and result.values[0]["term"] == "速动比率"
    assert "(流动资产 - 存货) / 流动负债" in result.text
