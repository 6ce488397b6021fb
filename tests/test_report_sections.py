"""Open questions answered from the report's own section: the CSRC headings, their levels, ticked
options, verdicts, and the fallback when a report lacks the heading."""

import pytest

from ingestion.chunks import make_chunks
from ingestion.pdf_text import read_pdf_text
from ingestion.sections import find_sections
from knowledge.headings import heading_level
from tools.retrieval.sections import read_section, topic_of, topics, verdict


@pytest.mark.parametrize("line, level", [
    ("第三节 公司业务概要", "section"), ("一、审计意见", "cn"), ("(四) 可能面对的风险", "paren"),
    ("1、政策性风险", "digit"), ("3.7.2 经营计划", "digit3"), ("1.2 报告期内公司从事的主要业务", "digit2"),
    ("12.5亿元", None), ("1.88元（含税）", None), ("一、报告期内，公司实现营业收入1.2亿元。", None),
])
def test_heading_levels(line, level):
    assert heading_level(line) == level


def _topic(name):
    return next(t for t in topics() if t.name == name)


def test_topic_of_a_question_is_its_longest_ask_word():
    assert topic_of("简要介绍四方科技2019年的核心竞争力").name == "核心竞争力"
    assert topic_of("四方科技是做什么的").name == "主营业务"
    assert topic_of("四方科技2019年的营业收入是多少") is None


def test_section_reads_under_its_heading_up_to_the_next_sibling():
    lines = [(3, "目录"), (3, "三、报告期内核心竞争力分析 ........ 9"),
             (9, "三、报告期内核心竞争力分析"), (9, "公司的核心竞争力主要体现在研发平台。"), (10, "1.营销网络覆盖全国"),
             (10, "四、其他"), (10, "与核心竞争力无关的内容。")]
    found = read_section(lines, _topic("核心竞争力"))
    assert found.heading == "三、报告期内核心竞争力分析" and found.pages == [9, 10]
    assert "研发平台" in found.text and "营销网络" in found.text and "无关" not in found.text


def test_a_ticked_option_is_what_the_report_says():
    lines = [(30, "十、重大诉讼、仲裁事项"), (30, "□本年度公司有重大诉讼、仲裁事项 √本年度公司无重大诉讼、仲裁事项"),
             (30, "十一、其他")]
    assert read_section(lines, _topic("重大诉讼")).text == "本年度公司无重大诉讼、仲裁事项"


@pytest.mark.parametrize("text, sentence", [
    ("我们认为，后附的财务报表公允反映了公司的财务状况。", "标准无保留意见"),
    ("我们认为，除形成保留意见的基础部分所述事项的影响外，公允反映了…", "保留意见"),
    ("我们认为…公允反映了…三、强调事项 我们提醒财务报表使用者关注…", "带强调事项段的无保留意见"),
    ("我们不对后附的财务报表发表审计意见……形成无法表示意见的基础", "无法表示意见"),
])
def test_audit_opinion_verdicts(text, sentence):
    assert verdict(_topic("审计意见"), text) == f"审计意见类型为{sentence}。"


def test_a_section_the_report_lacks_gives_none():
    assert read_section([(1, "一、公司简介"), (1, "公司成立于2000年。")], _topic("核心竞争力")) is None


def test_real_report_sections(sample_pdf):
    pages = read_pdf_text(sample_pdf).pages
    rows = make_chunks(pages, find_sections(pages), company_code="603339", year=2019)
    lines = [(r["page"], ln) for r in rows for ln in r["text"].split("\n")]
    audit = read_section(lines, _topic("审计意见"))
    assert audit.pages[0] == 56 and verdict(_topic("审计意见"), audit.context) == "审计意见类型为标准无保留意见。"
    business = read_section(lines, _topic("主营业务"))
    assert business.pages == [8] and "食品冷冻设备及罐式集装箱" in business.text
    risks = read_section(lines, _topic("风险"))
    assert risks.heading == "(四) 可能面对的风险" and "政策性风险" in risks.text


def test_a_section_of_numbered_parts_opens_with_their_titles_and_skips_running_headers():
    lines = [(56, "三、关键审计事项"), (56, "关键审计事项是我们根据职业判断认为最为重要的事项。"), (56, "(一) 收入确认"),
             (56, "1. 事项描述"), (57, "2024 年年度报告"), (57, "三、关键审计事项"), (57, "(二) 存货可变现净值"),
             (57, "四、其他信息")]
    found = read_section(lines, _topic("关键审计事项"))
    assert found.text.startswith("主要包括：(一) 收入确认；(二) 存货可变现净值。")
    assert "其他信息" not in found.text and "2024 年年度报告" not in found.text


def test_the_most_specific_heading_wins():
    lines = [(11, "1.3 发展战略及核心竞争力"), (11, "1.3.1 本行发展战略"), (11, "坚持零售做强。"),
             (14, "1.3.2 本行核心竞争力"), (14, "综合金融优势显著，科技赋能。"), (15, "1.4 其他")]
    assert read_section(lines, _topic("核心竞争力")).heading == "1.3.2 本行核心竞争力"
