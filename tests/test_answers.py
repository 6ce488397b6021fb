from decimal import Decimal

from community_fixture import bench_sample, community  # noqa: F401

from agent.structured import ask_structured
from graph.answers import format_value, render
from tools.results import ToolResult
from understanding.question import CompanyRef, Understanding


def _u(**kw):
    base = dict(question="q", intent="财务报表", companies=[CompanyRef("603339", "四方科技集团股份有限公司", "四方科技", "四方科技")],
                years=[2019], fields=["货币资金"], field_mentions={"货币资金": "货币资金"})
    base.update(kw)
    return Understanding(**base)


def _v(field, value, unit="money", year=2019, company="四方科技", mention=None, **kw):
    return {"company": company, "code": "603339", "year": year, "field": field, "mention": mention or field,
            "value": value, "unit": unit, "page": None, "source": "import", **kw}


def test_house_style_lookup():
    result = ToolResult(kind="lookup", values=[_v("货币资金", "905402299.44")])
    assert render(_u(), result) == "四方科技2019年的货币资金是905402299.44元。"


def test_prior_year_column_is_named():
    value = _v("货币资金", "627041535.44", year=2018)
    value["source"] = "report_prior_year"
    text = render(_u(years=[2018]), ToolResult(kind="lookup", values=[value]))
    assert text == "四方科技2018年的货币资金是627041535.44元（取自2019年年报中的上年数）。"


def test_an_earlier_column_of_a_later_report_names_that_report():
    # 主要会计数据 prints three years: the 2017 figure of a 2019 report is not "the 2018 report's prior year".
    value = _v("扣除非经常性损益后的净利润", "99", year=2017, report_year=2019)
    value["source"] = "report_prior_year"
    text = render(_u(years=[2017]), ToolResult(kind="lookup", values=[value]))
    assert text.endswith("（取自2019年年报中2017年的数据）。"), text


def test_units_and_exact_values():
    assert format_value(Decimal("379097507.0"), "money") == "379097507.0元"
    assert format_value(17, "count") == "17人"
    assert format_value(Decimal("18.63"), "percent") == "18.63%"
    assert format_value("zqb@ntsquare.com", "text") == "zqb@ntsquare.com"


def test_several_fields_echo_the_users_words():
    u = _u(fields=["销售费用", "负债合计"], field_mentions={"销售费用": "销售费用", "负债合计": "总负债"})
    result = ToolResult(kind="lookup", values=[_v("销售费用", "1.5"), _v("负债合计", "2", mention="总负债")])
    assert render(u, result) == "四方科技2019年的销售费用是1.5元，总负债是2元。"


def test_compare_years_gives_values_and_verdict():
    u = _u(intent="统计题", years=[2019, 2020], fields=["法定代表人"], statistic={"kind": "compare_years"})
    same = ToolResult(kind="statistic", values=[_v("法定代表人", "王文博", "text"), _v("法定代表人", "王文博", "text", year=2020)])
    assert render(u, same) == "相同，四方科技2019年法定代表人是王文博，2020年法定代表人是王文博。"
    diff = ToolResult(kind="statistic", values=[_v("法定代表人", "赵兵文", "text"), _v("法定代表人", "郑温雅", "text", year=2020)])
    assert render(u, diff).startswith("不相同，")
    spaced = ToolResult(kind="statistic", values=[_v("法定代表人", "孙 毅", "text"), _v("法定代表人", "孙毅", "text", year=2020)])
    assert render(u, spaced).startswith("不相同（各年记载仅空格不同），")
    # A year without a value is not silently "the same".
    one = ToolResult(kind="statistic", values=[_v("法定代表人", "赵兵文", "text")], missing=["2020年四方科技的法定代表人"])
    text = render(u, one)
    assert text.startswith("无法判断是否相同") and "未查询到2020年四方科技的法定代表人" in text


def test_refusal_names_what_is_missing():
    result = ToolResult(kind="refusal", missing=["2019年光云科技的财务费用"])
    assert render(_u(), result) == "未查询到2019年光云科技的财务费用的相关信息，无法回答该问题。"
    u = _u(companies=[], problems=["未识别到公司：星辰大海科技"])
    assert render(u, ToolResult(kind="refusal")).startswith("未查询到相关信息：未识别到公司：星辰大海科技")


def test_rank_and_count():
    u = _u(intent="统计题", years=[2020], fields=["营业收入"], statistic={"kind": "rank", "order": "desc", "n": 2})
    values = [_v("营业收入", "3", year=2020, company="甲", rank=1, order="desc"),
              _v("营业收入", "2", year=2020, company="乙", rank=2, order="desc")]
    assert render(u, ToolResult(kind="statistic", values=values)) == \
        "2020年营业收入最高的2家公司是：1. 甲（3元）；2. 乙（2元）。"
    u = _u(intent="统计题", years=[2020], statistic={"kind": "count"})
    v = _v("营业收入", 7, "count", year=2020, company=None, threshold_text="超过10亿元")
    assert render(u, ToolResult(kind="statistic", values=[v])) == "2020年营业收入超过10亿元的公司共有7家。"


def test_real_lookups_contain_the_reference_value_field_and_year(community):
    store, settings, _ = community
    for it in bench_sample():
        p = it["prompt"]
        if it["type"] not in ("1", "1-2") or p["key_word"].startswith("无|"):
            continue
        answer = ask_structured(it["question"], store=store, settings=settings)["answer"]
        for word in p["key_word"].split("、"):
            assert p[word].removesuffix("元") in answer, (it["question"], answer)
        assert p["year"] in answer


def test_real_refusal_questions_are_refused(community):
    store, settings, _ = community
    items = [it for it in bench_sample() if it["prompt"].get("key_word", "").startswith("无|")]
    assert items
    for it in items:
        answer = ask_structured(it["question"], store=store, settings=settings)["answer"]
        assert answer.startswith("未查询到"), (it["question"], answer)


# Model-written SQL (tools.sql.run_generated) returns whatever columns its query selected --------
def _generated_result(values):
    return ToolResult(kind="statistic", values=values, sql="SELECT COUNT(*) AS n FROM company_year WHERE year = 2020")


def test_a_generated_count_renders_its_columns_instead_of_crashing():
    u = _u(intent="统计题", companies=[], years=[2020], fields=[], statistic=None)
    assert render(u, _generated_result([{"n": 3}])) == "查询结果：n为3。"
    # the same values under every statistic shape the templates know: a plain rendering, never a KeyError
    for kind in ("rank", "count", "compare_years", "compare_companies", "other"):
        assert render(_u(intent="统计题", statistic={"kind": kind}), _generated_result([{"n": 3}])) == "查询结果：n为3。"
    assert render(None, _generated_result([{"n": 3}])) == "查询结果：n为3。"


def test_generated_rows_list_each_column_and_stop_after_twenty():
    rows = [{"short_name": "甲", "营业收入": Decimal("3.50"), "note": None}, {"short_name": "乙", "营业收入": 2.0, "note": "x"}]
    assert render(_u(statistic={"kind": "other"}), _generated_result(rows)) == \
        "查询结果共2行：short_name为甲，营业收入为3.50，note为无；short_name为乙，营业收入为2.0，note为x。"
    many = render(_u(), _generated_result([{"year": 2000 + i} for i in range(25)]))
    assert many.startswith("查询结果共25行：year为2000；") and "year为2019" in many and "year为2020" not in many
    assert many.endswith("（仅列出前20行）")


def test_a_generated_result_of_the_wrong_shape_is_refused_by_name():
    for values, why in (([b"\x00"], "不是带列名的表格"), ([{}], "不是带列名的表格"), ([{"b": b"\x00"}], "bytes"),
                        ([{"n": [1, 2]}], "list")):
        text = render(_u(), _generated_result(values))
        assert text.startswith("未查询到可用的结果：生成的SQL的查询结果无法使用") and why in text, text


def test_a_template_value_missing_a_key_falls_back_to_the_columns():
    """A value with the template keys but not the rank the rank template reads."""
    u = _u(intent="统计题", years=[2020], fields=["营业收入"], statistic={"kind": "rank", "order": "desc", "n": 2})
    values = [{"company": "甲", "year": 2020, "field": "营业收入", "value": "3"},
              {"company": "乙", "year": 2020, "field": "营业收入", "value": "2"}]
    text = render(u, ToolResult(kind="statistic", values=values))
    assert text.startswith("查询结果共2行：company为甲，year为2020，field为营业收入，value为3；")


def test_a_generated_query_answers_through_the_graph(tmp_path, monkeypatch):
    """The turn that crashed (KeyError: 'company'): the intent adapter labels a question 统计题 that no
    template covers, the nl2sql adapter writes a COUNT, and the answer renders its column."""
    from agent import service
    from graph import llm
    from knowledge.configuration import Settings
    from knowledge.store import Company, Store, Value

    settings = Settings(home=tmp_path / "home", llm={"base_url": "http://127.0.0.1:9/v1", "max_retries": 0})
    settings.ensure_home()
    store = Store(settings.db_url)
    with store.transaction() as conn:  # two companies with 2020 figures; a report, so no sample is ingested
        for code, name, revenue in (("600001", "甲乙科技", "5"), ("600002", "丙丁股份", "7")):
            store.upsert_company(Company(code, name + "有限公司", name), conn)
            report = store.add_report(conn, company_code=code, year=2020, file_name=f"{code}.pdf", sha256=code, pages=1)
            store.record_values(conn, code, 2020, [Value("营业收入", Decimal(revenue))], source="report",
                                report_id=report)
    asked = []

    async def fake_complete(settings, role, messages, **kw):
        asked.append(role)
        if role == "intent":
            return '{"intent": "统计题"}'
        if role == "nl2sql":
            return "SELECT COUNT(*) AS n FROM company_year WHERE year = 2020"
        raise llm.LLMUnavailable(f"no {role} model in this test")

    async def no_answer_model(settings, role, messages, **kw):
        raise llm.LLMUnavailable("no answer model in this test")
        yield  # an async generator, like llm.astream

    monkeypatch.setattr(llm, "acomplete", fake_complete)
    monkeypatch.setattr(llm, "astream", no_answer_model)
    out = service.ask("甲乙科技2020年的营业收入在所有公司中排第几？", settings=settings)
    assert "nl2sql" in asked and out["intent"] == "统计题"
    assert out["values"] == [{"n": 2}] and out["sql"].endswith("LIMIT 200")
    assert out["answer"] == "查询结果：n为2。"
