"""Business segments end to end: the 主营业务分行业/分产品/分地区 rows of the real reports stored with their report,
questions naming a segment as the company prints it, the tool and the answer citing the table's page; an unknown
segment is refused by name, never answered with the company's figure. Values read off the pages cited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent.service import ask
from ingestion.business import extract_segments
from ingestion.pdf_text import read_pdf_text
from ingestion.sections import find_sections
from knowledge.store import Store
from tools.segments import segment_lookup
from understanding.question import understand
from understanding.segments import find_segment_ask, follow_segment


def _segments(pdf) -> dict:
    text = read_pdf_text(pdf)
    return {(s.dimension, s.name): s for s in extract_segments(text.pages, find_sections(text.pages))}


@pytest.fixture(scope="module")
def sifang(sample_pdf):
    return _segments(sample_pdf)


@pytest.fixture
def store(reports_settings):
    return Store(reports_settings.db_url)


def test_every_dimension_is_read_and_each_row_cites_its_own_page(sifang):
    # p.11 分行业 (冷冻设备, 罐式集装箱), p.12 分产品 (the same rows, the table continued) and 分地区 (境内, 境外).
    assert set(sifang) == {("分行业", "冷冻设备"), ("分行业", "罐式集装箱"), ("分产品", "冷冻设备"),
                           ("分产品", "罐式集装箱"), ("分地区", "境内"), ("分地区", "境外")}
    assert sifang[("分行业", "冷冻设备")].page == 11 and sifang[("分产品", "冷冻设备")].page == 12
    west = sifang[("分地区", "境外")]
    assert (west.revenue, west.cost, west.margin) == (Decimal("737763832.75"), Decimal("601896081.32"),
                                                       Decimal("18.42"))
    assert (west.revenue_change, west.margin_change) == (Decimal("-6.78"), Decimal("-4.19"))


def test_a_row_without_its_changes_is_left_out(second_pdf):
    # p.15 分地区: 国内 prints every column; 国外 prints no changes on the prior year, so it is not read.
    rows = _segments(second_pdf)
    assert rows[("分地区", "国内")].margin == Decimal("61.40") and rows[("分地区", "国内")].page == 15
    assert ("分地区", "国外") not in rows
    assert rows[("分行业", "生物制药")].margin == Decimal("62.95")


def test_the_rows_are_stored_with_their_report_and_removed_with_it(store):
    rows = store.segments("600201", 2020)
    biopharma = next(r for r in rows if r["name"] == "生物制药" and r["dimension"] == "分行业")
    assert biopharma["margin"] == Decimal("62.95") and biopharma["page"] == 14
    report = store.reports("600201")[0]
    with store.transaction() as conn:
        store.remove_report(conn, report["id"])
    assert store.segments("600201") == []
    assert store.segments("603339", 2019)  # the other company's rows stay


def test_a_segment_is_named_as_printed_or_with_a_suffix():
    names = ["生物制药", "其他收入"]
    ask_ = find_segment_ask("\u3000\u3000生物制药业务的毛利率", names)
    assert (ask_.name, ask_.said, ask_.figures) == ("生物制药", "生物制药业务", ["margin"])
    assert find_segment_ask("生物制药产品营业收入同比增长多少", names).figures == ["revenue_change"]
    assert find_segment_ask("生物制药产品营业收入同比增长多少", names).dimension == "分产品"
    assert find_segment_ask("生物制药的收入和营业成本", names).figures == ["revenue", "cost"]
    assert find_segment_ask("毛利率", names) is None
    assert find_segment_ask("禽用疫苗业务的毛利率", names) is None
    assert find_segment_ask("生物制药和其他收入的毛利率", names) is None  # two segments: never one for both
    # A share, or a change asked in 元, is not what the table prints.
    assert find_segment_ask("生物制药收入占营业收入的比例", names) is None
    assert find_segment_ask("生物制药收入比上年增加了多少元", names) is None
    # A metric word that is part of another quantity is no segment metric.
    assert find_segment_ask("境外成本收入比是多少", ["境外"]) is None
    assert find_segment_ask("境外营业外收入是多少", ["境外"]) is None
    assert find_segment_ask("境外营业收入多少亿", ["境外"]).figures == ["revenue"]
    # 「比上年」 reaches here with 上年 masked as a year.
    assert find_segment_ask("国内营业收入比\u3000\u3000增长多少", ["国内"]).figures == ["revenue_change"]


def test_follow_ups_keep_the_segment_or_the_figures():
    before = {"name": "冷冻设备", "said": "冷冻设备", "dimension": None, "figures": ["margin"]}
    names = ["冷冻设备", "罐式集装箱"]
    assert follow_segment("那罐式集装箱呢?", names, before).name == "罐式集装箱"
    assert follow_segment("同比变化多少?", names, before).figures == ["margin_change"]
    assert follow_segment("营业收入呢?", names, before).figures == ["revenue"]
    assert follow_segment("那\u3000\u3000\u3000\u3000\u3000呢?", names, before).figures == ["margin"]
    assert follow_segment("公司整体的毛利率呢?", names, before) is None
    assert follow_segment("净利润呢?", names, before) is None


def test_the_companys_own_figure_is_not_a_segment_question(store):
    u = understand("生物股份2020年毛利率", store)
    assert u.segment is None and u.formula
    assert understand("生物股份2020年主营业务毛利率", store).segment is None


def test_the_tool_cites_the_table_and_names_what_is_missing(store):
    result = segment_lookup(store, "603339", [2018, 2019], "罐式集装箱", ["margin"], dimension="分产品",
                            company_label="四方科技")
    assert [(v["year"], v["value"], v["table"], v["page"]) for v in result.values] == \
        [(2019, Decimal("17.30"), "主营业务分产品情况", 12)]
    assert result.missing == ["四方科技2018年罐式集装箱的毛利率"]


def test_the_answer_cites_the_page(reports_settings):
    answer = ask("生物股份2020年生物制药业务的毛利率", settings=reports_settings)["answer"]
    assert answer == "生物股份2020年生物制药业务的毛利率是62.95%（主营业务分行业情况，第14页）。"
    answer = ask("四方科技2019年罐式集装箱营业收入同比增长多少", settings=reports_settings)["answer"]
    assert "-8.34%" in answer and "第11页" in answer
    answer = ask("生物股份2020年国内营业收入较2019年增长多少", settings=reports_settings)["answer"]
    assert answer == "生物股份2020年国内的营业收入比上年增减是39.81%（主营业务分地区情况，第15页）。"


def test_a_thread_follows_the_segment_and_leaves_it_for_the_company(reports_settings):
    thread = "segments"
    first = ask("四方科技2019年冷冻设备的毛利率", settings=reports_settings, thread_id=thread)["answer"]
    assert "32.51%" in first
    assert "17.30%" in ask("那罐式集装箱呢？", settings=reports_settings, thread_id=thread)["answer"]
    company = ask("公司整体的毛利率呢？", settings=reports_settings, thread_id=thread)["answer"]
    assert "罐式集装箱" not in company and "17.30%" not in company


def test_an_unknown_segment_is_refused_by_name(reports_settings):
    answer = ask("四方科技2019年冷链装备的营业收入是多少", settings=reports_settings)["answer"]
    assert answer.startswith("未查询到") and "冷链装备" in answer
    assert "1175301034.32" not in answer and "371318215.91" not in answer


def test_a_field_that_spells_a_segment_name_stays_the_field(store):
    # A segment named 其他 must not take 「其他业务收入」 (a field of the income statement) for its 营业收入.
    with store.transaction() as conn:
        store.record_segments(conn, store.reports("603339")[0]["id"], "603339", 2019,
                              [{"dimension": "分行业", "name": "其他", "revenue": Decimal("1"), "page": 11}])
    u = understand("四方科技2019年其他业务收入是多少", store)
    assert u.segment is None and u.fields == ["其他业务收入"]
    assert understand("四方科技2019年其他业务的毛利率", store).segment["name"] == "其他"
