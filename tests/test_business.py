"""ingestion.business: 主营业务 totals and segments, 前五名客户/供应商, from the page text of the real reports (values
read off their pages) and of pages written in the other layouts the exchanges' templates use."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.business import extract_business, segment_rows
from ingestion.pdf_text import read_pdf_text
from ingestion.sections import find_sections


def _values(pdf) -> dict:
    text = read_pdf_text(pdf)
    return {v.field: v for v in extract_business(text.pages, find_sections(text.pages))}


@pytest.fixture(scope="module")
def sifang(sample_pdf):
    return _values(sample_pdf)


@pytest.fixture(scope="module")
def jinyu(second_pdf):
    return _values(second_pdf)


def test_concentration_sentence_and_its_exact_total_row(sifang):
    # p.13: 「前五名客户销售额 32,932.48 万元，占年度销售总额 28.02%」, the list's 合计 row 329,324,848.37 28.02.
    assert sifang["前五名客户销售额占年度销售总额比例"].value == Decimal("28.02")
    assert sifang["前五名客户销售额"].value == Decimal("329324848.37")
    assert sifang["前五名供应商采购额占年度采购总额比例"].value == Decimal("48.11")
    assert sifang["前五名供应商采购额"].value == Decimal("454069679.93")
    assert sifang["前五名客户销售额"].page == 13


def test_an_amount_printed_in_wan_yuan_only_is_not_kept(jinyu):
    # p.16 prints 27,614.37 万元 and no list: the share is exact, the amount is rounded to 100 元.
    assert jinyu["前五名客户销售额占年度销售总额比例"].value == Decimal("18.20")
    assert jinyu["前五名供应商采购额占年度采购总额比例"].value == Decimal("32.22")
    assert "前五名客户销售额" not in jinyu and "前五名供应商采购额" not in jinyu


def test_main_business_from_the_companys_own_sentence(sifang):
    # p.11: 「公司实现主营业务收入 1,135,639,368.05 元…；主营业务成本 882,679,215.83 元…；主营业务毛利率 22.27%」
    assert sifang["主营业务收入"].value == Decimal("1135639368.05")
    assert sifang["主营业务成本"].value == Decimal("882679215.83")
    assert sifang["主营业务毛利率"].value == Decimal("22.27")


def test_main_business_as_the_sum_of_segments_that_the_rounded_sentence_confirms(jinyu):
    # p.14: the text says 156,732 万元 and 60,466 万元; the 分行业 rows (生物制药 + 其他收入) give them to the fen.
    assert jinyu["主营业务收入"].value == Decimal("1517535227.34") + Decimal("49782351.35")
    assert jinyu["主营业务成本"].value == Decimal("562220894.56") + Decimal("42437099.99")
    assert "主营业务毛利率" not in jinyu  # not printed: the formula computes it, saying so


def test_segment_rows_of_a_real_table(sample_pdf):
    page = read_pdf_text(sample_pdf)
    rows = segment_rows(page.page(11) + "\n" + page.page(12), 11)
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"冷冻设备", "罐式集装箱"}
    assert by_name["冷冻设备"].margin == Decimal("32.51") and by_name["冷冻设备"].margin_change == Decimal("-3.96")
    assert by_name["罐式集装箱"].revenue == Decimal("764321152.14")


def test_a_bank_has_none():
    bank = next((Path(__file__).parent / "data" / "reports").glob("*000001*.pdf"))
    assert _values(bank) == {}


SEGMENTS = """单位:万元 币种:人民币
主营业务分行业情况
分行业 营业收入 营业成本 毛利率
（%）
营业收入比上
年增减（%）
营业成本比上
年增减（%）
毛利率比上年
增减（%）
医药制造 12,000.00 4,000.00 66.67 10.00 5.00 增加 1.50 个
百分点
医药流通 8,000.00 7,000.00 12.50 -2.00 1.00 减少 2.00 个百分点
合计 20,000.00 11,000.00 45.00 4.00 2.50 增加 0.60 个百分点
主营业务分产品情况
"""


def test_a_total_row_and_a_table_in_wan_yuan():
    rows = {r.name: r for r in segment_rows(SEGMENTS, 20)}
    assert rows["医药制造"].revenue == Decimal("120000000") and rows["医药制造"].margin_change == Decimal("1.50")
    assert rows["医药流通"].margin_change == Decimal("-2.00")
    values = {v.field: v.value for v in extract_business(["x", SEGMENTS])}
    assert values == {"主营业务收入": Decimal("200000000"), "主营业务成本": Decimal("110000000"),
                      "主营业务毛利率": Decimal("45.00")}


def test_a_misread_row_is_left_out():
    # 毛利率 66.67 does not follow from 12,000 and 5,000: a shifted or misread row, never summed.
    bad = SEGMENTS.replace("医药制造 12,000.00 4,000.00", "医药制造 12,000.00 5,000.00")
    assert "医药制造" not in {r.name for r in segment_rows(bad, 20)}


def test_a_segments_own_sentence_and_a_disagreement_keep_nothing():
    segment_only = "报告期内，医药制造产业实现主营业务收入 1,234,567.89 元，较上年增长 5%。"
    assert extract_business([segment_only]) == []
    # The sentence and the table's total disagree: neither is kept.
    disagreeing = "报告期内，公司实现主营业务收入 1,000.00 元。\n" + SEGMENTS
    assert "主营业务收入" not in {v.field for v in extract_business([disagreeing])}


def test_the_shenzhen_rows():
    page = """公司主要销售客户情况
前五名客户合计销售金额（元） 1,084,512,345.67
前五名客户合计销售金额占年度销售总额比例 25.41%
前五名客户销售额中关联方销售额占年度销售总额比例 0.00%
公司主要供应商情况
前五名供应商合计采购金额（元） 567,890,123.45
前五名供应商合计采购金额占年度采购总额比例 30.12%
"""
    values = {v.field: v.value for v in extract_business([page])}
    assert values == {"前五名客户销售额": Decimal("1084512345.67"), "前五名客户销售额占年度销售总额比例": Decimal("25.41"),
                      "前五名供应商采购额": Decimal("567890123.45"),
                      "前五名供应商采购额占年度采购总额比例": Decimal("30.12")}
