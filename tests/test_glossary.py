"""The finance glossary: coverage of fields and formulas, well-formed entries, lookup."""

from __future__ import annotations

import re

import pytest

from knowledge.fields import field_dictionary, normalize_label
from knowledge.glossary import load_glossary, named_in
from tools.glossary import lookup

# Every formula of the challenge's type 2-1 questions (by the name the questions use).
CHALLENGE_FORMULAS = [
    "资产负债比率", "速动比率", "现金比率", "流动比率", "毛利率", "营业利润率", "净利润率", "营业成本率",
    "三费比重", "管理费用率", "财务费用率", "研发经费与利润比值", "研发经费与营业收入比值", "研发经费占费用比例",
    "研发人员占职工人数比例", "硕士及以上人员占职工人数比例", "投资收益占营业收入比率", "流动负债比率",
    "非流动负债比率", "营业收入增长率", "净利润增长率", "营业利润增长率", "总资产增长率", "总负债增长率",
    "流动负债增长率", "固定资产增长率", "无形资产增长率", "货币资金增长率", "现金及现金等价物增长率",
    "投资收益增长率", "销售费用增长率", "管理费用增长率", "财务费用增长率", "研发费用增长率",
]
CONCEPTS = ["合同资产", "商誉", "营业周期", "现金等价物", "债权投资", "会计政策变更", "财务杠杆", "营运资本", "合营安排"]


def _names() -> set[str]:
    return {normalize_label(n) for e in load_glossary() for n in e.names}


def test_glossary_has_at_least_150_terms():
    assert len(load_glossary()) >= 150


def test_every_wide_table_field_has_an_entry():
    # By any surface form: a field renamed in the dictionary keeps its old name as a synonym.
    names = _names()
    missing = [f.name for f in field_dictionary() if not any(normalize_label(n) in names for n in f.surface_forms)]
    assert not missing, f"fields without a glossary entry: {missing}"


@pytest.mark.parametrize("term", CHALLENGE_FORMULAS)
def test_every_challenge_formula_has_an_entry_with_its_formula(term):
    entry = next(e for e in load_glossary() if e.term == term)
    assert entry.formula and "/" in entry.formula


@pytest.mark.parametrize("term", CONCEPTS)
def test_common_accounting_concepts_are_defined(term):
    assert normalize_label(term) in _names()


def test_definitions_are_one_to_three_chinese_sentences():
    for e in load_glossary():
        ends = len(re.findall(r"[。！？]", e.definition))
        assert 1 <= ends <= 3, (e.term, e.definition)
        assert re.search(r"[\u4e00-\u9fff]", e.definition), e.term


def test_lookup_finds_the_named_concept_first():
    assert lookup("无形资产是指什么？")[0].term == "无形资产"
    assert [e.term for e in lookup("财务杠杆和经营杠杆有什么区别？")][:2] == ["财务杠杆", "经营杠杆"]
    assert lookup("什么是资产负债率？")[0].term == "资产负债比率"  # by alias


def test_lookup_finds_a_described_concept_by_its_definition():
    assert lookup("企业在建设中尚未完工的工程怎么核算？")[0].term == "在建工程"


def test_a_name_inside_a_longer_name_does_not_count():
    assert [e.term for e in named_in("非流动资产合计是多少")] == ["非流动资产合计"]


def test_entry_text_carries_the_formula():
    quick = next(e for e in load_glossary() if e.term == "速动比率")
    assert "(流动资产 - 存货) / 流动负债" in quick.text()
