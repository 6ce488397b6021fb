"""Issue "Trust under attack" 7b: a year counts only where it can be the year of an annual report.

公元前2019年, -2019年, 2019e10, 99年 and 2099年 were answered for 2019, 2019, 2010 and 2019, 2099 and 2099;
now a mention that reads as a year but is no report's year is refused by name.
"""

from __future__ import annotations

import pytest

from agent.service import ask
from knowledge.store import Company, Store
from understanding.question import understand
from understanding.years import FIRST_REPORT_YEAR, latest_report_year, parse_years, resolve_years

LATEST = 2025  # the two-digit pivot depends on the current year: fixed here so the cases do not age


@pytest.fixture
def registry(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'r.sqlite'}")
    store.upsert_company(Company("603339", "四方科技集团股份有限公司", "四方科技"))
    return store


@pytest.mark.parametrize("text, years", [
    ("2019年", [2019]),
    ("2019年度", [2019]),
    ("19年的营业收入", [2019]),
    ("21年", [2021]),
    ("24年", [2024]),
    ("05年", [2005]),
    ("99年", [1999]),  # 2099 is in the future: a two-digit year in it is of the 1900s
    ("FY2019", [2019]),
    ("２０１９年", [2019]),
    ("二〇一九年", [2019]),
    ("二零一九年", [2019]),
    ("二〇一九至二〇二一年", [2019, 2020, 2021]),
    ("2019-2021年", [2019, 2020, 2021]),
    ("2019−2021年", [2019, 2020, 2021]),
    ("2019年至2021年期间", [2019, 2020, 2021]),
    ("2019年和2020年", [2019, 2020]),
    ("2019、2020年", [2019, 2020]),
    ("2019-12-31的货币资金", [2019]),
    ("2021年的营业收入比上年", [2020, 2021]),
    ("2021年的营业收入比上一年", [2020, 2021]),
    ("2021年相比前年", [2019, 2021]),
])
def test_report_years_are_read(text, years):
    mentions = parse_years(text, latest=LATEST)
    assert resolve_years(mentions) == years
    assert mentions.refused == []


@pytest.mark.parametrize("text, refused", [
    ("公元前2019年", "公元前2019年"),
    ("公元前 2019年", "公元前 2019年"),
    ("-2019年", "-2019年"),
    ("−2019年", "−2019年"),
    ("2019e10年", "2019e10年"),
    ("2019E+10年", "2019E+10年"),
    ("2019.5年", "2019.5年"),
    ("2099年", "2099年"),
    ("2030年", "2030年"),  # after the latest report year
    ("1800年", "1800年"),
    ("1989年", "1989年"),  # before the exchanges opened
    ("20190年", "20190年"),
    ("二〇九九年", "二〇九九年"),
    ("89年", "89年"),  # 1989: 2089 is in the future, 1989 before the first report
    ("26年", "26年"),  # 2026 is after LATEST, and 1926 before the first report
])
def test_what_reads_as_a_year_but_is_no_reports_year_is_refused_by_name(text, refused):
    mentions = parse_years(text, latest=LATEST)
    assert mentions.years == [] and resolve_years(mentions) == []
    assert mentions.refused == [refused]


@pytest.mark.parametrize("text", [
    "2019e10",  # was 2019, and 2010 from 「10」
    "2019e10的货币资金",
    "2019.5",
    "3.2019",
    "1.2019年",
    "12019",
    "20190101",
    "超过2019万元",
    "近10年的营业收入",
    "过去10年",
    "10年来",
    "-2019",
    "电话0513-86567333",
])
def test_numbers_that_are_no_year_are_neither_years_nor_refused(text):
    mentions = parse_years(text, latest=LATEST)
    assert mentions.years == [] and mentions.refused == []


def test_an_amount_is_not_a_second_year():
    assert parse_years("2020年营业收入超过2000万元的公司", latest=LATEST).years == [2020]


def test_a_valid_year_beside_a_refused_one_is_kept_and_the_other_named():
    mentions = parse_years("2019年和2099年", latest=LATEST)
    assert mentions.years == [2019] and mentions.refused == ["2099年"]


def test_the_latest_report_year_is_this_year_by_default():
    this_year = latest_report_year()
    assert parse_years(f"{this_year}年").years == [this_year]
    assert parse_years(f"{this_year + 1}年").refused == [f"{this_year + 1}年"]
    assert parse_years(f"{FIRST_REPORT_YEAR}年").years == [FIRST_REPORT_YEAR]


def test_a_refused_mention_is_masked_so_nothing_else_reads_it():
    text = "四方科技公元前2019年的货币资金"
    mentions = parse_years(text, latest=LATEST)
    assert [text[s:e] for s, e in mentions.spans] == ["公元前2019年"]


@pytest.mark.parametrize("question, named", [
    ("四方科技2099年的货币资金是多少元？", "2099年"),
    ("四方科技公元前2019年的货币资金是多少元？", "公元前2019年"),
    ("四方科技-2019年的货币资金是多少元？", "-2019年"),
    ("四方科技2019e10年的货币资金是多少元？", "2019e10年"),
])
def test_understanding_names_the_refused_year_as_its_problem(registry, question, named):
    u = understand(question, registry)
    assert u.years == []
    assert u.problems == [f"年份超出年报范围：{named}"]


def test_understanding_reads_a_two_digit_year_of_the_1900s(registry):
    assert understand("四方科技99年的货币资金是多少元？", registry).years == [1999]


def test_a_refused_year_in_a_follow_up_does_not_inherit_the_previous_year(registry):
    first = understand("四方科技2019年的货币资金是多少元？", registry)
    u = understand("那2099年呢？", registry, previous=first.to_context())
    assert u.years == [] and "years" not in u.resolved_from_context
    assert u.problems == ["年份超出年报范围：2099年"]


def test_the_answer_names_the_refused_year_instead_of_answering_for_2019(reports_settings):
    result = ask("四方科技公元前2019年的货币资金是多少元？", settings=reports_settings)
    assert "年份超出年报范围：公元前2019年" in result["answer"]
    assert "905402299.44" not in result["answer"].replace(",", "") and result["values"] == []
    assert result["years"] == []
