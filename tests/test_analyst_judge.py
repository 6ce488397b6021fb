"""The analyst set's judge (benchmarks/analyst/judge.py) and the format of every file in benchmarks/analyst."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from benchmarks.analyst.dataset import (
    FOLDER,
    KINDS,
    check_folder,
    conversation_files,
    expect_problems,
    file_code,
    load_jsonl,
    question_files,
)
from benchmarks.analyst.judge import (
    OTHER,
    REFUSED,
    RIGHT,
    WRONG_NUMBER,
    asserted_quantities,
    is_refusal,
    judge,
    parse_quantities,
)
from ingestion.pdf_text import read_pdf_text

REPO = FOLDER.parent.parent

# ---- number parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value, unit", [
    ("营业收入是1,175,301,034.32元", Decimal("1175301034.32"), "元"),
    ("营业收入是117,530.10万元", Decimal("1175301000.00"), "万元"),
    ("营业收入是11.75亿元", Decimal(1175000000), "亿元"),
    ("营业收入约11.75亿", Decimal(1175000000), "亿"),
    ("营业收入是1,175.30百万元", Decimal(1175300000), "百万元"),
    ("毛利率是23.15%", Decimal("23.15"), "%"),
    ("毛利率是23.15％", Decimal("23.15"), "％"),
    ("基本每股收益0.62元/股", Decimal("0.62"), "元/股"),
    ("在职员工1,406人", Decimal(1406), "人"),
    ("财务费用是-12024894.14元", Decimal("-12024894.14"), "元"),
    ("流动比率是2.35", Decimal("2.35"), ""),
])
def test_a_number_is_read_with_its_unit(text, value, unit):
    (q,) = parse_quantities(text)
    assert (q.value, q.unit) == (value, unit)


def test_two_numbers_in_one_phrase_are_both_read():
    qs = parse_quantities("营业收入1.18亿元（117,530.10万元）")
    assert [q.value for q in qs] == [Decimal(118000000), Decimal("1175301000.00")]


@pytest.mark.parametrize("text", [
    "2019年", "2019 年", "19年", "2019年12月31日", "（第9页）", "p.9", "第 9 页", "第4季度", "603339.SH", "SH603339",
    "电话0513-81658162", "2019-2020", "ABSL-3", "ZL200910092433.3", "www.sqteg.com", "Q3",
])
def test_years_dates_pages_codes_and_phones_are_not_quantities(text):
    assert parse_quantities(text) == []


def test_a_stock_code_the_question_typed_is_not_a_quantity():
    assert judge("603339 2019年的营业收入是1175301034.32元。", {"number": 1175301034.32, "unit": "元"},
                 question="603339 2019 营收").verdict == RIGHT
    assert parse_quantities("603339的营收", ignore=("603339",)) == []


def test_a_decrease_word_makes_the_number_negative():
    assert judge("营业收入同比减少4.49%", {"number": -4.488783, "unit": "%"}).verdict == RIGHT
    assert judge("营业收入同比增长4.49%", {"number": -4.488783, "unit": "%"}).verdict == WRONG_NUMBER


# ---- right within the printed precision --------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "四方科技2019年的营业收入是1175301034.32元。",
    "四方科技2019年的营业收入是1,175,301,034.32元。",
    "四方科技2019年的营业收入为117,530.10万元。",
    "四方科技2019年的营业收入约11.75亿元。",
    "四方科技2019年的营业收入是1.18亿元（117,530.10万元）。",
])
def test_the_expected_money_within_the_precision_printed_is_right(answer):
    assert judge(answer, {"number": 1175301034.32, "unit": "元"}).verdict == RIGHT


def test_a_figure_printed_too_coarsely_is_not_right_and_not_a_wrong_number():
    v = judge("营业收入约12亿元", {"number": 1175301034.32, "unit": "元"})
    assert v.verdict == OTHER and "coarsely" in v.reason


def test_a_neighbouring_value_is_a_wrong_number():
    # 净利润 answered for 扣非净利润: close in size, a different figure.
    v = judge("四方科技2019年的净利润是129465020.68元。", {"number": 129188735.59, "unit": "元"})
    assert v.verdict == WRONG_NUMBER and v.asserted == ["129465020.68元"]


def test_requested_decimals_are_checked():
    expect = {"number": 23.148491, "unit": "%", "places": 2}
    assert judge("毛利率是23.15%", expect).verdict == RIGHT
    assert judge("毛利率是23.1485%", expect).verdict == RIGHT
    v = judge("毛利率是23.1%", expect)
    assert v.verdict == OTHER and "decimals" in v.reason
    assert judge("毛利率是26.74%", expect).verdict == WRONG_NUMBER


def test_a_requested_unit_must_be_the_unit_printed():
    expect = {"number": 11.75301034, "unit": "亿元"}
    assert judge("营业收入是11.75亿元", expect).verdict == RIGHT
    v = judge("营业收入是1175301034.32元", expect)
    assert v.verdict == OTHER and "亿元" in v.reason
    assert judge("营业收入是12.31亿元", expect).verdict == WRONG_NUMBER


def test_percent_and_ratio_forms_are_interchangeable():
    assert judge("毛利率是0.2315", {"number": 23.148491, "unit": "%"}).verdict == RIGHT
    assert judge("流动比率为235.40%", {"number": 2.353958, "unit": ""}).verdict == RIGHT
    assert judge("基本每股收益是0.62元", {"number": 0.62, "unit": "元/股"}).verdict == RIGHT
    assert judge("员工总数是1406", {"number": 1406, "unit": "人"}).verdict == RIGHT


# ---- the asserted result of a formula answer ---------------------------------------------------------------

GROWTH_ANSWER = ("四方科技2019年的营业收入为1175301034.32元、上年营业收入为1230537181.8元，根据公式：营业收入增长率="
                 "(营业收入-上年营业收入)/上年营业收入，得出四方科技2019年的营业收入增长率是{result}。")


def test_a_growth_answer_is_judged_on_its_result_not_its_inputs():
    expect = {"number": -4.488783, "unit": "%"}
    assert judge(GROWTH_ANSWER.format(result="-4.49%"), expect).verdict == RIGHT
    wrong = judge(GROWTH_ANSWER.format(result="-3.12%"), expect)
    assert wrong.verdict == WRONG_NUMBER and wrong.asserted == ["-3.12%"]  # the inputs are not asserted


def test_the_inputs_of_a_formula_are_not_taken_as_the_answer():
    # Asked for last year's revenue, a growth answer's input happens to be it: the result is what it asserts.
    answer = GROWTH_ANSWER.format(result="-4.49%")
    assert judge(answer, {"number": 1230537181.80, "unit": "元"}).verdict == WRONG_NUMBER
    assert [q.printed for q in asserted_quantities(answer)] == ["-4.49%"]


def test_the_level_for_a_growth_question_is_a_wrong_number():
    v = judge("四方科技2019年的营业收入是1175301034.32元。", {"number": -4.488783, "unit": "%"})
    assert v.verdict == WRONG_NUMBER


# ---- refusals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    "未查询到2015年四方科技的营收的相关信息，无法回答该问题。",
    "抱歉，该问题需要查阅年报原文或金融知识库，当前未能回答。",
    "抱歉，我只能回答上市公司年报相关的问题。",
    "未查询到相关信息：未识别到年份，无法回答该问题。",
])
def test_the_projects_refusals_are_recognised(answer):
    assert is_refusal(answer)
    assert judge(answer, {"refuse": True}).verdict == RIGHT
    assert judge(answer, {"number": 1175301034.32, "unit": "元"}).verdict == REFUSED


def test_every_refusal_template_of_answers_toml_is_recognised():
    import tomllib

    templates = tomllib.loads((REPO / "knowledge" / "answers.toml").read_text(encoding="utf-8"))["refusal"]
    for template in templates.values():
        assert is_refusal(template.format(what="X", problems="Y")), template


def test_a_number_where_a_refusal_is_due_is_a_wrong_number():
    v = judge("四方科技2015年的营业收入是1175301034.32元。", {"refuse": True})
    assert v.verdict == WRONG_NUMBER
    # A refusal that slips in a substitute figure is a wrong number too.
    v = judge("未查询到扣非净利润，四方科技2019年的净利润是129465020.68元。", {"number": 129188735.59, "unit": "元"})
    assert v.verdict == WRONG_NUMBER


def test_an_answer_that_is_neither_is_other():
    assert judge("速动比率是衡量短期偿债能力的指标。", {"refuse": True}).verdict == OTHER
    assert judge("速动比率是衡量短期偿债能力的指标。", {"number": 1.438197, "unit": ""}).verdict == OTHER


# ---- text and year ---------------------------------------------------------------------------------------


def test_text_expectations():
    assert judge("四方科技2019年的董事会秘书是饶伟。", {"text_any": ["饶伟"]}).verdict == RIGHT
    assert judge("四方科技2019年的董事会秘书是黄杰。", {"text_any": ["饶伟"]}).verdict == OTHER
    opinion = {"text_all": ["标准无保留"], "text_none": ["非无保留"]}
    assert judge("天健会计师事务所出具了标准无保留意见的审计报告。", opinion).verdict == RIGHT
    assert judge("标准无保留……如果披露不充分，我们应当发表非无保留意见。", opinion).verdict == OTHER
    both = {"text_all": ["食品冷冻设备", "罐式集装箱"]}
    assert judge("主营业务是食品冷冻设备及罐式集装箱的研发、生产和销售", both).verdict == RIGHT
    assert judge("主营业务是食品冷冻设备", both).verdict == OTHER


def test_a_question_without_year_needs_the_year_stated():
    expect = {"text_any": ["饶伟"], "year": 2019}
    assert judge("四方科技2019年的董事会秘书是饶伟。", expect).verdict == RIGHT
    v = judge("四方科技的董事会秘书是饶伟。", expect)
    assert v.verdict == OTHER and "2019" in v.reason
    assert judge("四方科技2019 年营业收入是1175301034.32元", {"number": 1175301034.32, "unit": "元",
                                                         "year": 2019}).verdict == RIGHT


# ---- the files ---------------------------------------------------------------------------------------------


ROUND2 = FOLDER / "round2"  # a second set, written later by another hand (benchmarks/analyst/README.md)


@pytest.mark.parametrize("folder", [FOLDER, ROUND2], ids=["round1", "round2"])
def test_every_file_in_the_folder_is_well_formed(folder):
    assert question_files(folder) and conversation_files(folder)
    assert check_folder(folder) == []


def test_the_format_check_finds_problems():
    assert expect_problems({"number": 1, "unit": "美元"})
    assert expect_problems({"number": 1, "unit": "元", "text_any": ["x"]})
    assert expect_problems({"refuse": True, "year": 2019})
    assert expect_problems({"text_any": []})
    assert expect_problems({"text_none": ["x"]})
    assert expect_problems({"number": 1, "unit": "元", "places": 9})
    assert expect_problems({"number": 1, "unit": "元", "year": 19})
    assert expect_problems({"number": 1, "unit": "元"}) == []


def _items(path):
    for item in load_jsonl(path):
        yield from ([{**t, "id": item["id"]} for t in item["turns"]] if "turns" in item else [item])


MY_REPORTS = {"603339": REPO / "ingestion" / "samples", "600201": REPO / "tests" / "data" / "reports"}


@pytest.mark.parametrize("code", sorted(MY_REPORTS))
def test_each_report_has_enough_questions_of_every_kind(code):
    (path,) = [p for p in question_files() if file_code(p) == code]
    items = load_jsonl(path)
    assert len(items) >= 110
    counts = {k: sum(i["kind"] == k for i in items) for k in KINDS if k != "bank"}
    assert all(n >= 8 for n in counts.values()), counts
    (conv,) = [p for p in conversation_files() if file_code(p) == code]
    assert len(load_jsonl(conv)) >= 10


FORMULA = re.compile(r"=|\d\s*[-+*/]\s*\(?\d")


@pytest.mark.parametrize("code", sorted(MY_REPORTS))
def test_printed_values_are_on_the_page_they_cite(code):
    """An expected value in 元 (two decimals), 人 or 元/股 that is not computed is printed on a page its source
    cites (a source that starts with another company's name is that company's report: not checked here)."""
    (pdf,) = MY_REPORTS[code].glob(f"*__{code}__*.pdf")
    pages = [p.replace(" ", "") for p in read_pdf_text(pdf).pages]
    checked = 0
    for path in (*question_files(), *conversation_files(), *question_files(ROUND2), *conversation_files(ROUND2)):
        if file_code(path) != code:
            continue
        for item in _items(path):
            expect, source = item["expect"], item["source"]
            if "number" not in expect or expect["unit"] not in ("元", "人", "元/股") or not source.startswith("p.") \
                    or FORMULA.search(source):
                continue
            cited = {int(n) for n in re.findall(r"p\.(\d+)", source)}
            for a, b in re.findall(r"p\.(\d+)-(\d+)", source):
                cited |= set(range(int(a), int(b) + 1))
            x = expect["number"]
            printed = f"{x:,.2f}" if expect["unit"] != "人" else f"{int(x):,}"
            assert any(printed in pages[n - 1] for n in cited), (item["id"], item["q"], printed, source)
            checked += 1
    assert checked >= 60


def test_a_pasted_table_row_is_a_passage_not_an_assertion():
    row = "营业收入 1,175,301,034.32 1,230,537,181.80 -4.49 1,008,714,515.86 归属于上市公司股东的净利润 129,465,020.68"
    assert len(parse_quantities(row)) == 5
    v = judge(row, {"number": 1175301034.32, "unit": "元"})
    assert v.verdict == OTHER and "passage" in v.reason
    assert judge(row, {"number": 42, "unit": "元"}).verdict == OTHER
    assert judge(row, {"refuse": True}).verdict == WRONG_NUMBER


def test_the_expected_number_is_known_to_its_own_last_digit():
    assert judge("每股经营现金流量是3.264元", {"number": 3.26, "unit": "元/股"}).verdict == RIGHT
    assert judge("每股经营现金流量是3.274元", {"number": 3.26, "unit": "元/股"}).verdict == WRONG_NUMBER
    assert judge("不良贷款余额357.38亿元", {"number": 35738000000, "unit": "元"}).verdict == RIGHT


@pytest.mark.parametrize("text", ["1. 四方科技", "41. 递延所得税资产", "1、研发平台优势", "（2）对于", "(3) 检查"])
def test_list_markers_are_not_quantities(text):
    assert parse_quantities(text) == []


def test_a_refusal_quoting_the_question_asserts_no_number():
    from benchmarks.analyst.judge import RIGHT, REFUSED, judge

    q = "平安银行2024年逾期90天以上贷款拨备覆盖率"
    answer = "未查询到相关信息：未识别到要查询的字段：逾期90天以上贷款拨备覆盖率，无法回答该问题。"
    assert judge(answer, {"number": 397.09, "unit": "%"}, question=q).verdict == REFUSED
    assert judge(answer, {"refuse": True}, question=q).verdict == RIGHT
