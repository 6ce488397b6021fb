import pytest
from community_fixture import bench_sample, community  # noqa: F401

from agent.evaluation import TYPE_INTENTS
from knowledge.store import Company, Store
from understanding.entities import company_index
from understanding.question import parse_decimals, understand
from understanding.years import parse_years, resolve_years


@pytest.fixture
def registry(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    for c in (
        Company("601398", "中国工商银行股份有限公司", "工商银行"),
        Company("600592", "福建龙溪轴承集团股份有限公司", "龙溪股份"),
        Company("000001", "平安银行股份有限公司", "平安银行"),
        Company("600201", "金宇生物技术股份有限公司", "生物股份"),
        Company("603339", "四方科技集团股份有限公司", "四方科技"),
        Company("000999", "华润三九医药股份有限公司", "华润三九"),
        Company("300033", "浙江核新同花顺网络信息股份有限公司", "同花顺"),
        # Two companies that share a short name: a question naming it is ambiguous.
        Company("900001", "甲地长城科技股份有限公司", "长城科技"),
        Company("900002", "乙地长城科技股份有限公司", "长城科技"),
    ):
        store.upsert_company(c)
    return store


@pytest.mark.parametrize("question, code", [
    ("中国工商银行2020年的营业收入是多少？", "601398"),
    ("工商银行2020年的营业收入是多少？", "601398"),
    ("中国工商银行股份有限公司2020年的营业收入是多少？", "601398"),
    ("601398在2020年的营业收入是多少？", "601398"),
    ("福建龙溪轴承(集团)股份有限公司2021年的投资收益是多少？", "600592"),
    ("福建龙溪轴承（集团）股份有限公司2021年的投资收益是多少？", "600592"),
    ("金宇生物技术股份有限公司2020年的净利润是多少？", "600201"),
])
def test_company_by_name_short_name_code_and_alias(registry, question, code):
    u = understand(question, registry)
    assert [c.code for c in u.companies] == [code]
    assert u.problems == []


def test_code_inside_a_longer_number_is_not_a_company(registry):
    u = understand("2020年营业收入超过6013981元的公司有多少家？", registry)
    assert u.companies == []


def test_ambiguous_short_name_is_reported_not_guessed(registry):
    u = understand("长城科技2020年的营业收入是多少？", registry)
    assert u.companies == []
    assert any(p.startswith("公司名称有歧义") and "900001" in p and "900002" in p for p in u.problems)


def test_unknown_company_is_named(registry):
    u = understand("星辰大海科技2020年的营业收入是多少？", registry)
    assert u.companies == []
    assert any(p.startswith("未识别到公司") and "星辰大海科技" in p for p in u.problems)


def test_fuzzy_fallback_finds_a_slightly_misspelt_full_name(registry):
    u = understand("浙江核新同花瞬网络信息股份有限公司2019年的货币资金是多少？", registry)
    assert [c.code for c in u.companies] == ["300033"]
    # A different company that shares only the legal form and a word is not a match.
    u = understand("湖南华凯文化创意股份有限公司2021年的营业收入是多少？", registry)
    assert u.companies == [] and u.problems == ["未识别到公司：湖南华凯文化创意股份有限公司"]


def test_name_core_without_generic_words(registry):
    u = understand("金宇生物2020年的法定代表人是谁？", registry)  # 金宇生物技术股份有限公司
    assert [c.code for c in u.companies] == ["600201"]
    u = understand("四方科技集团2019年的货币资金是多少？", registry)
    assert [c.code for c in u.companies] == ["603339"]


def test_unknown_company_in_an_open_question_is_refused_by_name(registry):
    u = understand("请简要分析融钰集团股份有限公司2020年的股权激励实施情况", registry)
    assert u.intent == "开放性问题" and u.problems == ["未识别到公司：融钰集团股份有限公司"]


def test_follow_up_analogous_field(registry):
    first = understand("四方科技2019年投资活动产生的现金流量净额是多少？", registry)
    u = understand("筹资活动的呢？", registry, previous=first.to_context())
    assert u.fields == ["筹资活动产生的现金流量净额"] and u.years == [2019]


def test_follow_up_restating_the_field_with_another_year(registry):
    first = understand("平安银行2024年筹资活动产生的现金流量净额", registry)
    u = understand("上一年筹资活动呢", registry, previous=first.to_context())
    assert u.fields == ["筹资活动产生的现金流量净额"] and u.years == [2023]


def test_growth_after_two_years_of_one_field_is_the_later_over_the_earlier(registry):
    context = None
    for question in ("平安银行2024年手续费及佣金净收入", "上一年呢"):
        context = understand(question, registry, previous=context).to_context()
    assert context["years"] == [2023] and context["moved_from"] == [2024]
    u = understand("增长率是多少", registry, previous=context)
    assert u.formula == "手续费及佣金净收入增长率" and u.years == [2024]
    # Without the year moved by the thread, a growth follow-up is the shown year's own.
    first = understand("平安银行2023年手续费及佣金净收入", registry)
    assert understand("增长率是多少", registry, previous=first.to_context()).years == [2023]


def test_a_parenthetical_excluding_a_group_member_restates_a_parent_only_figure(registry):
    u = understand("平安银行2024年本行在职员工人数（不含平安理财）", registry)
    assert u.fields == ["母公司在职员工的数量"] and not u.problems
    u = understand("平安银行2024年本行在职员工人数（不含派遣人员）", registry)  # another quantity
    assert u.fields == [] and any("不含派遣人员" in p for p in u.problems)
    u = understand("平安银行2024年在职员工人数（不含平安理财）", registry)  # the group's total less a member
    assert u.fields == [] and u.problems


def test_a_rate_of_a_field_is_not_the_field(registry):
    u = understand("四方科技2019年所得税税率", registry)
    assert u.fields == [] and not u.formula and any("所得税税率" in p for p in u.problems)
    assert understand("平安银行2024年实际所得税税率", registry).formula == "实际所得税税率"


def test_registry_change_rebuilds_the_automaton(registry, monkeypatch):
    from understanding import entities

    monkeypatch.setattr(entities, "SIGNATURE_TTL_S", 0.0)
    before = company_index(registry)
    assert understand("新来的公司2020年营业收入是多少？", registry).companies == []
    registry.upsert_company(Company("688999", "新来的公司股份有限公司", "新来的公司"))
    assert company_index(registry) is not before
    assert [c.code for c in understand("新来的公司2020年营业收入是多少？", registry).companies] == ["688999"]


@pytest.mark.parametrize("text, years", [
    ("2019年", [2019]),
    ("19年的营业收入", [2019]),
    ("2019-2021年", [2019, 2020, 2021]),
    ("2019至2021年", [2019, 2020, 2021]),
    ("2019年至2021年期间", [2019, 2020, 2021]),
    ("2020年和2021年", [2020, 2021]),
    ("2021年的营业收入比上年", [2020, 2021]),
    ("2021年相比去年", [2020, 2021]),
    ("电话0513-86567333", []),
])
def test_year_expressions(text, years):
    assert resolve_years(parse_years(text)) == years


@pytest.mark.parametrize("text, n", [
    ("保留两位小数", 2), ("保留2位小数", 2), ("保留至小数点后两位", 2), ("保留到小数点后第二位", 2),
    ("保留四位小数", 4), ("是多少？", None),
])
def test_decimals(text, n):
    assert parse_decimals(text) == n


def test_fields_synonyms_and_formulas(registry):
    u = understand("2020年生物股份的销售费用和管理费用分别是多少元?", registry)
    assert u.fields == ["销售费用", "管理费用"] and u.intent == "财务报表"
    u = understand("2020年生物股份的总负债是多少元?", registry)
    assert u.fields == ["负债合计"] and u.field_mentions["负债合计"] == "总负债"
    u = understand("生物股份2020年的营业利润率是多少？保留两位小数。", registry)
    assert u.formula == "营业利润率" and u.fields == [] and u.intent == "计算题" and u.decimals == 2
    u = understand("生物股份2020年研发人员占职工人数的比例是多少？", registry)  # 的 inside the name
    assert u.formula == "研发人员占职工人数比例"
    u = understand("生物股份2020年的ROE是多少？", registry)
    assert u.formula == "净资产收益率"


def test_statistic_shapes(registry):
    u = understand("2021年营业收入最高的前3家公司是哪些？", registry)
    assert u.intent == "统计题" and u.statistic == {"kind": "rank", "order": "desc", "n": 3} and u.problems == []
    u = understand("2020年净利润第二低的公司是哪家？", registry)
    assert u.statistic["kind"] == "rank" and u.statistic["nth"] == 2 and u.statistic["order"] == "asc"
    u = understand("2020年净利润超过10亿元的公司有多少家？", registry)
    assert u.statistic["kind"] == "count" and u.statistic["op"] == ">" and u.statistic["threshold"] == "1000000000"
    u = understand("平安银行在2019至2021年间的法定代表人是否都相同？", registry)
    assert u.statistic == {"kind": "compare_years"} and u.years == [2019, 2020, 2021]
    u = understand("生物股份在2020年的法定代表人是否与上年相同?", registry)
    assert u.years == [2019, 2020] and u.intent == "统计题"


def test_intent_on_real_questions(community):
    store, settings, _ = community
    items = bench_sample()
    right = [understand(it["question"], store).intent in TYPE_INTENTS[it["type"]] for it in items]
    assert sum(right) / len(right) >= 0.95


def test_real_questions_link_the_company_and_year_of_their_prompt(community):
    store, settings, _ = community
    for it in bench_sample():
        p = it["prompt"]
        if it["type"] not in ("1", "1-2", "2-1") or not p.get("ent_name"):
            continue
        u = understand(it["question"], store)
        names = {c.name for c in u.companies} | {c.short_name for c in u.companies}
        if p["key_word"].startswith("无|"):  # refusal questions may name companies the table lacks
            continue
        assert p["ent_name"] in names or p["ent_short_name"] in names, it["question"]
        assert int(p["year"]) in u.years, it["question"]


def test_chitchat_and_concepts(registry):
    assert understand("你好", registry).intent == "其他"
    assert understand("什么是存货周转率？", registry).intent == "金融概念"
    assert understand("研发费用对公司的技术创新和竞争优势有何影响？", registry).intent == "金融概念"
    assert understand("请简要分析四方科技2019年的核心竞争力。", registry).intent == "开放性问题"


# Follow-ups -----------------------------------------------------------------------------------
def test_follow_up_new_year(registry):
    first = understand("生物股份2020年的毛利率是多少？", registry)
    u = understand("那2018年呢？", registry, previous=first.to_context())
    assert [c.code for c in u.companies] == ["600201"] and u.years == [2018]
    assert u.formula == "毛利率" and u.intent == "计算题"
    assert set(u.resolved_from_context) == {"companies", "formula"}


def test_follow_up_new_field(registry):
    first = understand("生物股份2020年的营业收入是多少？", registry)
    u = understand("它的研发费用呢？", registry, previous=first.to_context())
    assert [c.code for c in u.companies] == ["600201"] and u.years == [2020] and u.fields == ["研发费用"]
    assert set(u.resolved_from_context) == {"companies", "years"}


def test_follow_up_add_company(registry):
    first = understand("四方科技2020年的营业收入是多少？", registry)
    u = understand("和生物股份比呢？", registry, previous=first.to_context())
    assert [c.code for c in u.companies] == ["603339", "600201"]
    assert u.fields == ["营业收入"] and u.years == [2020] and u.intent == "统计题"
    assert u.statistic == {"kind": "compare_companies"}


def test_follow_up_explain_formula(registry):
    first = understand("四方科技2020年的资产负债率是多少？", registry)
    u = understand("这个比率是怎么算的？", registry, previous=first.to_context())
    assert u.formula == "资产负债比率" and u.statistic == {"kind": "explain_formula"} and u.intent == "计算题"
    assert "formula" in u.resolved_from_context


def test_context_round_trips_through_json(registry):
    import json

    u = understand("四方科技2020年的营业收入是多少？", registry)
    ctx = json.loads(json.dumps(u.to_context(), ensure_ascii=False))
    assert understand("那2019年呢？", registry, previous=ctx).fields == ["营业收入"]


def test_without_previous_nothing_is_inherited(registry):
    u = understand("那2018年呢？", registry)
    assert u.companies == [] and u.resolved_from_context == []


# The intent adapter ----------------------------------------------------------------------------
def _understand_node(question, store, settings):
    """The graph's understand node, which asks the intent adapter when an endpoint is configured."""
    from agent import runner
    from graph import nodes

    config = {"configurable": {"settings": settings, "store": store}}
    return runner.run(nodes.understand({"question": question}, config))


def test_intent_adapter_is_used_when_configured(registry, monkeypatch):
    from graph import llm
    from knowledge.configuration import Settings

    settings = Settings(llm={"base_url": "http://127.0.0.1:9/v1"})
    prompts = []

    async def adapter(s, role, prompt):
        prompts.append(role)
        return '"intent": "统计题"}'

    monkeypatch.setattr(llm, "acomplete", adapter)
    update = _understand_node("四方科技2020年的营业收入是多少？", registry, settings)
    assert prompts == ["intent"] and update["intent"] == "统计题"
    assert update["understanding"]["intent_source"] == "llm"
    # Embedded mode: the rules, and no adapter call.
    update = _understand_node("四方科技2020年的营业收入是多少？", registry, Settings())
    assert prompts == ["intent"] and update["intent"] == "财务报表"


def test_intent_adapter_failure_falls_back_to_rules(registry, monkeypatch):
    from graph import llm
    from knowledge.configuration import Settings

    async def fail(*_a, **_k):
        raise llm.LLMUnavailable("down")

    monkeypatch.setattr(llm, "acomplete", fail)
    settings = Settings(llm={"base_url": "http://127.0.0.1:9/v1"})
    update = _understand_node("四方科技2020年的营业收入是多少？", registry, settings)
    assert update["intent"] == "财务报表" and update["understanding"]["intent_source"] == "rules"

    async def chatter(*_a, **_k):
        return "我觉得是闲聊"  # not a label: rules again

    monkeypatch.setattr(llm, "acomplete", chatter)
    assert _understand_node("四方科技2020年的营业收入是多少？", registry, settings)["intent"] == "财务报表"


def test_concept_question_after_a_lookup_is_not_about_that_company(registry):
    first = understand("四方科技2020年的营业收入是多少？", registry)
    u = understand("什么是毛利率？", registry, previous=first.to_context())
    assert u.intent == "金融概念" and u.companies == [] and u.resolved_from_context == []
