"""The rule 「never a substituted number」: a question naming a more specific quantity than a field it
contains is answered with that quantity or refused naming it — never with the nearer field.

扣非净利润 contains 净利润, 扣除非经常性损益后的基本每股收益 contains 基本每股收益, 营收同比增长 contains
营收. A wrong number is the worst outcome, worse than a refusal. The pairs are enumerated from the
field dictionary, the formula table and the qualifier words (knowledge/intents.toml [qualifiers]), so
an entry added there is checked without touching this file.
"""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest

from agent.service import ask
from knowledge.fields import FieldDictionary, field_dictionary, normalize_label
from knowledge.formulas import get_formula, formula_table
from knowledge.store import Company, Store, Value
from understanding.intent import intent_rules
from understanding.mentions import find_mentions
from understanding.question import understand
from understanding.years import parse_years

# 四方科技 2019, from the report's income statement: the figures a substitution would give.
NET_PROFIT = "129465020.68"
REVENUE = "1175301034.32"
REVENUE_GROWTH = "-4.49%"  # (1175301034.32 - 1230537181.80) / 1230537181.80
DEDUCTED_NET_PROFIT = "129188735.59"  # 扣非净利润, once ingestion reads 主要会计数据


@pytest.fixture(scope="module")
def store(reports_home, tmp_path_factory) -> Store:
    """The two real reports, on a private copy (understanding reads the company registry only)."""
    home = tmp_path_factory.mktemp("no-substitution")
    shutil.copy(reports_home / "nianbao.sqlite", home / "nianbao.sqlite")
    return Store(f"sqlite:///{home / 'nianbao.sqlite'}")


def _ask_about(store, words: str):
    return understand(f"四方科技2019年的{words}是多少？", store)


def _surface_forms() -> dict[str, tuple[str, str]]:
    """Every surface form of a field or formula → (kind, canonical name); formulas win a shared spelling."""
    forms = {form: ("field", name) for form, name in field_dictionary().surface_forms().items()}
    for f in formula_table().values():
        for form in (f.name, *f.synonyms):
            forms[normalize_label(form)] = ("formula", f.name)
    return forms


def _understood(u) -> list[tuple[str, str]]:
    return [("field", x) for x in u.fields] + ([("formula", u.formula)] if u.formula else [])


def _refuses_naming(u, words: str) -> bool:
    return any(words in p for p in u.problems)


def test_every_longer_surface_form_is_understood_as_itself(store):
    forms = _surface_forms()
    pairs = [(long, short) for long in forms for short in forms
             if short != long and short in long and forms[short][1] != forms[long][1]]
    longer = sorted({long for long, _ in pairs})
    assert len(longer) > 200  # the dictionary is full of them: 归母净利润 ⊃ 净利润, 营业收入增长率 ⊃ 营业收入 …
    for long, short in [("扣非净利润", "净利润"), ("归母净利润", "净利润"), ("扣除非经常性损益的净利润", "净利润"),
                        ("扣除非经常性损益后的基本每股收益", "基本每股收益"), ("加权平均净资产收益率", "净资产收益率"),
                        ("扣除非经常性损益后的加权平均净资产收益率", "加权平均净资产收益率")]:
        assert (long, short) in pairs
    wrong = []
    for long in longer:
        u = _ask_about(store, long)
        if _understood(u) != [forms[long]] and not _refuses_naming(u, long):
            wrong.append((long, forms[long][1], _understood(u), u.problems))
    assert not wrong


@pytest.mark.parametrize("words, name", [
    ("基本每股收益", "基本每股收益"),
    ("稀释每股收益", "稀释每股收益"),
    ("营业总收入", "营业总收入"),
    ("营业收入", "营业收入"),
    ("总营收", "营业总收入"),
    ("归属于母公司所有者的净利润", "归属于母公司所有者的净利润"),
    ("归属于母公司的净利润", "归属于母公司所有者的净利润"),
    ("净利润", "净利润"),
    ("扣非归母净利润", "扣除非经常性损益后的净利润"),
    ("归属于上市公司股东的扣除非经常性损益的净利润", "扣除非经常性损益后的净利润"),
    ("扣非每股收益", "扣除非经常性损益后的基本每股收益"),
    ("加权净资产收益率", "加权平均净资产收益率"),
    ("ROE(加权)", "加权平均净资产收益率"),
    ("扣非ROE", "扣除非经常性损益后的加权平均净资产收益率"),
    ("归属于上市公司股东的净资产", "归属于母公司所有者权益合计"),
    ("非经常性损益", "非经常性损益合计"),
    ("经营活动产生的现金流量净额", "经营活动产生的现金流量净额"),
    ("投资活动产生的现金流量净额", "投资活动产生的现金流量净额"),
])
def test_look_alike_fields_are_each_their_own(store, words, name):
    u = _ask_about(store, words)
    assert u.fields == [name] and u.formula is None and u.problems == []


def test_headline_indicators_are_in_the_dictionary_with_their_units():
    fd = field_dictionary()
    units = {"扣除非经常性损益后的净利润": "money", "非经常性损益合计": "money",
             "扣除非经常性损益后的基本每股收益": "money", "加权平均净资产收益率": "percent",
             "扣除非经常性损益后的加权平均净资产收益率": "percent", "基本每股收益": "money", "稀释每股收益": "money"}
    assert {name: fd[name].unit for name in units} == units


def _numeric_names():
    """Every quantity a question may name: numeric fields and formulas, with their canonical names."""
    fields = [(f.name, f.name) for f in field_dictionary() if f.unit != "text"]
    return fields + [(f.name, f.name) for f in formula_table().values()]


def _spelled_otherwise(words: str, cut: int, name: str) -> bool:
    """The combination spells something else: a year (调整前一年内…) or a mention across the joint
    of another name (扣非 + 流动资产合计 reads 扣 + 非流动资产合计)."""
    return bool(parse_years(words).spans) or any(
        m.start < cut < m.end and m.name != name for m in find_mentions(words))


def test_a_qualifier_before_a_quantity_is_never_answered_as_the_quantity(store):
    """扣非营业利润, 母公司的营业收入, 第四季度营业收入: the dictionary does not know them, so they are
    refused naming the words — or understood as a longer form that holds the qualifier."""
    wrong, checked = [], 0
    for form, name in _numeric_names():
        for word in intent_rules()["qualifiers"]["before"]:
            words = word + form
            if _spelled_otherwise(words, len(word), name):
                continue
            checked += 1
            u = _ask_about(store, words)
            as_itself = name in u.fields or u.formula == name
            holds_qualifier = any(word in said for said in u.field_mentions.values() if said)
            if as_itself or not (_refuses_naming(u, words) or holds_qualifier):
                wrong.append((words, _understood(u), u.problems))
    assert checked > 5000
    assert not wrong


def test_a_change_word_after_a_quantity_is_its_growth_formula_or_refused(store):
    """营收同比增长 is 营业收入增长率 (a listed formula); any other numeric field's change is its derived growth
    rate, change (多了, 增减额) or, for a rate, change in points — computed from that field, never another."""
    q = intent_rules()["qualifiers"]
    wrong, routed = [], set()
    for form, name in _numeric_names():
        for word in q["growth"] + q["after"]:
            words = form + word
            if _spelled_otherwise(words, len(form), name):
                continue
            u = _ask_about(store, words)
            if name in u.fields or u.formula == name:
                wrong.append((words, _understood(u), u.problems))
            elif u.formula:
                routed.add((name, u.formula))
            elif not _refuses_naming(u, words):
                wrong.append((words, _understood(u), u.problems))
    assert not wrong
    # Every growth formula (a field's form + 增长率) is reached from its field, and nothing else is.
    suffix, fd = q["growth_formula_suffix"], field_dictionary()
    growth = {(fd.resolve(form.removesuffix(suffix)).name, f.name) for f in formula_table().values()
              for form in (f.name, *f.synonyms)
              if form.endswith(suffix) and fd.resolve(form.removesuffix(suffix)) is not None}
    assert ("营业收入", "营业收入增长率") in growth and ("资产总计", "总资产增长率") in growth
    assert growth <= routed
    for name, formula in routed - growth:
        f = get_formula(formula)
        assert formula in (name + "增长率", name + "变动额", name + "变动"), (name, formula)
        # A field's change reads that field; a rate's (毛利率变动) the rate's own inputs; both years of them.
        own = {name} if name in field_dictionary() else {i.field for i in get_formula(name).inputs}
        assert {i.field for i in f.inputs} == own and {i.offset for i in f.inputs} == {0, -1}


@pytest.mark.parametrize("question, formula", [
    ("四方科技2019年营业外收入增长率是多少？", "营业外收入增长率"),
    ("四方科技2019年毛利率同比变化是多少？", "毛利率变动"),
    ("四方科技2019年扣非净利润同比变化了多少", "扣除非经常性损益后的净利润增长率"),
    ("四方科技2019年营收同比增长了多少", "营业收入增长率"),
    ("四方科技2019年营业收入较上年增长了多少？", "营业收入增长率"),
    ("四方科技2019年净利润同比增长多少？", "净利润增长率"),
])
def test_growth_wording_is_the_growth_formula(store, question, formula):
    u = understand(question, store)
    assert u.formula == formula and u.fields == [] and u.intent == "计算题" and u.problems == []


@pytest.mark.parametrize("question, words", [
    ("四方科技2019年扣非营业利润是多少？", "扣非营业利润"),
    ("四方科技2019年扣除非经常性损益后的稀释每股收益是多少？", "扣除非经常性损益后的稀释每股收益"),
    ("四方科技2019年母公司的营业收入是多少？", "母公司的营业收入"),
    ("四方科技2019年母公司研发人员数量是多少？", "母公司研发人员数量"),
    ("四方科技2019年摊薄净资产收益率是多少？", "摊薄净资产收益率"),
    ("四方科技2019年住房按揭贷款不良率是多少？", "住房按揭贷款不良率"),
    ("四方科技2019年主营业务净利率是多少？", "主营业务净利率"),  # (主营业务毛利率 is known: ingestion.business)
    ("四方科技2019年信用及资产减值损失是多少？", "信用及资产减值损失"),
])
def test_an_unknown_specific_quantity_is_refused_by_name(store, question, words):
    u = understand(question, store)
    assert u.fields == [] and u.formula is None
    assert u.problems == [f"未识别到要查询的字段：{words}"]


def test_qualifiers_leave_text_fields_and_open_questions_alone(store):
    u = understand("四方科技2019年境内会计师事务所是哪家？", store)
    assert u.fields == ["会计师事务所"] and u.problems == []
    u = understand("请简要分析四方科技2019年营业收入变动情况及原因", store)
    assert u.intent == "开放性问题" and u.problems == []
    u = understand("四方科技2019年和2018年的营业收入是否发生变化？", store)
    assert u.fields == ["营业收入"] and u.problems == []  # a comparison of years shows both levels


@pytest.mark.parametrize("first, follow_up, fields, formula, problems", [
    ("四方科技2019年净利润是多少？", "扣非的呢？", ["扣除非经常性损益后的净利润"], None, []),
    ("四方科技2019年营业收入是多少？", "那同比增长呢？", [], "营业收入增长率", []),
    ("四方科技2019年营业利润是多少？", "扣非的呢？", [], None, ["未识别到要查询的字段：扣非营业利润"]),
    ("四方科技2019年毛利率是多少？", "同比呢？", [], "毛利率变动", []),  # a rate's change, in points
    ("四方科技2019年营业收入是多少？", "那2018年呢？", ["营业收入"], None, []),
])
def test_a_follow_up_of_qualifier_words_qualifies_the_previous_field(store, first, follow_up, fields, formula,
                                                                     problems):
    u = understand(follow_up, store, previous=understand(first, store).to_context())
    assert (u.fields, u.formula, u.problems) == (fields, formula, problems)


def test_new_dictionary_columns_are_added_to_an_existing_store(tmp_path):
    """A home made before the headline indicators were in the dictionary gains their columns when it is
    opened, keeps its rows, and takes the indicator's value."""
    full = field_dictionary()
    old = FieldDictionary({n: f for n, f in full.fields.items() if f.statement != "other"})
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    before = Store(url, fields=old)
    with before.transaction() as conn:
        before.upsert_company(Company("603339", "四方科技集团股份有限公司", "四方科技"), conn)
        before.record_values(conn, "603339", 2019, [Value("净利润", Decimal(NET_PROFIT))], source="import")
    before.engine.dispose()
    after = Store(url)
    with after.transaction() as conn:
        after.record_values(conn, "603339", 2019, [Value("扣除非经常性损益后的净利润", Decimal(DEDUCTED_NET_PROFIT))],
                            source="import")
    row = after.row("603339", 2019)
    assert row["净利润"] == Decimal(NET_PROFIT) and row["扣除非经常性损益后的净利润"] == Decimal(DEDUCTED_NET_PROFIT)


@pytest.mark.parametrize("question, words", [
    ("四方科技2019年扣非净利润多少？", "扣非净利润"),
    ("四方科技2019年扣除非经常性损益的净利润是多少？", "扣除非经常性损益的净利润"),
])
def test_ask_never_answers_net_profit_for_deducted_net_profit(reports_settings, question, words):
    r = ask(question, settings=reports_settings)
    assert NET_PROFIT not in r["answer"].replace(",", "")
    assert r["fields"] == ["扣除非经常性损益后的净利润"]
    # The figure itself, or 「未查询到…扣非净利润…」 while no report has filled the column.
    assert DEDUCTED_NET_PROFIT in r["answer"] or (r["answer"].startswith("未查询到") and words in r["answer"])


def test_ask_answers_attributable_net_profit_as_itself(reports_settings):
    r = ask("四方科技2019年归母净利润是多少？", settings=reports_settings)
    assert r["fields"] == ["归属于母公司所有者的净利润"]
    # 四方科技 has no minority interests: the attributable figure equals 净利润, read from its own row.
    assert "归母净利润" in r["answer"] and NET_PROFIT in r["answer"]


def test_ask_answers_revenue_growth_not_the_revenue(reports_settings):
    r = ask("四方科技2019年营收同比增长了多少", settings=reports_settings)
    assert r["formula"] and "营业收入增长率" in str(r["formula"])
    assert REVENUE_GROWTH in r["answer"]
    # The level appears only as the formula's input, never as the answer.
    assert f"营收是{REVENUE}" not in r["answer"] and f"营业收入是{REVENUE}" not in r["answer"]
