"""Issue "Trust under attack" 7c: a question containing ； printed its answer twice.

The cause: 「A；A」 was split into two identical parts, each answered on the single-question path and the
answers joined, citations and all. A part is now answered once, and a trailing ； makes no empty part.
"""

from __future__ import annotations

import time

import pytest

from agent.service import ask, ask_stream
from graph.compound import split_compound

CASH = "四方科技2019年的货币资金是多少元"
CASH_ANSWER = "四方科技2019年的货币资金是905402299.44元。"


@pytest.mark.parametrize("question, parts", [
    (f"{CASH}；{CASH}", [CASH]),
    (f"{CASH}；{CASH}？", [CASH]),  # the same part, whatever its punctuation
    (f"{CASH}；{CASH}；", [CASH]),
    (f"{CASH}; {CASH}", [CASH]),
    ("四方科技2019年的货币资金；四方科技2019年的货币资金；营业收入是多少", ["四方科技2019年的货币资金", "营业收入是多少"]),
])
def test_a_part_written_twice_is_one_part(question, parts):
    assert split_compound(question) == parts


@pytest.mark.parametrize("question, parts", [
    (f"{CASH}；", [f"{CASH}；"]),  # not compound: answered as written
    ("四方科技2019年的货币资金；营业收入是多少；", ["四方科技2019年的货币资金", "营业收入是多少"]),
    ("；；；", ["；；；"]),
    ("", []),
])
def test_a_trailing_connector_makes_no_empty_part(question, parts):
    assert split_compound(question) == parts


def test_every_connector_of_a_kind_splits():
    question = "四方科技2019年的货币资金；营业收入是多少；净利润是多少"
    assert split_compound(question) == ["四方科技2019年的货币资金", "营业收入是多少", "净利润是多少"]


def test_the_split_keeps_its_connectors_words():
    assert split_compound("比较四方科技2019年和2018年的毛利率，并说明变化原因") == [
        "比较四方科技2019年和2018年的毛利率", "说明变化原因"]


def test_a_list_of_more_parts_than_the_limit_is_one_question():
    # Each part costs a run of the single-question path: a list of 20 is not 20 runs.
    question = "；".join(f"第{i:02d}个问题" for i in range(20))
    assert split_compound(question) == [question]


def test_a_long_repetition_is_one_question_split_in_bounded_work():
    question = f"{CASH}；" * 20000
    started = time.perf_counter()
    assert split_compound(question) == [question.strip()]
    assert time.perf_counter() - started < 1.0  # a scan per part allowed, not one per connector written


def test_the_same_question_twice_is_answered_once(reports_settings):
    result = ask(f"{CASH}；{CASH}", settings=reports_settings)
    assert result["answer"] == CASH_ANSWER
    assert len(result["citations"]) == 1


def test_the_same_question_twice_streams_its_answer_once(reports_settings):
    events = list(ask_stream(f"{CASH}；{CASH}", settings=reports_settings))
    streamed = "".join(e["text"] for e in events if e["type"] == "token")
    assert streamed == CASH_ANSWER


def test_a_trailing_semicolon_is_answered_once(reports_settings):
    result = ask(f"{CASH}；", settings=reports_settings)
    assert result["answer"] == CASH_ANSWER


def test_two_parts_are_each_answered_once(reports_settings):
    answer = ask("四方科技2019年的货币资金；营业收入是多少", settings=reports_settings)["answer"]
    assert answer.count("905402299.44") == 1 and answer.count("1175301034.32") == 1
