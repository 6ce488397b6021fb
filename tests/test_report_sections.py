"""Open questions answered from the report's own section: the CSRC headings, their levels, ticked
options, verdicts, and the fallback when a report lacks the heading."""

from pathlib import Path

import pytest

from ingestion.chunks import make_chunks
from ingestion.pdf_text import read_pdf_text
from ingestion.sections import find_sections
from knowledge.headings import heading_level, ordinal
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


@pytest.mark.parametrize("line, n", [("（三）可能面对的风险", 3), ("十二、其他", 12), ("3.6.13 信息科技风险", 13), ("第五章 环境", 5),
                                     ("1. 事项描述", 1), ("公司简介", None)])
def test_ordinal_of_a_numbered_heading(line, n):
    assert ordinal(line) == n


def test_one_dot_is_the_level_of_a_comma_mark():
    assert heading_level("1. 事项描述") == heading_level("1、事项描述") == "digit"
    assert heading_level("1.2 从事的主要业务") == "digit2"


def test_a_running_chapter_header_does_not_end_the_section():
    # Bank layout: 「第三章 管理层讨论与分析」 atop every page of the chapter; its parts run over many pages.
    chapter = "第三章 管理层讨论与分析"
    lines = [(24, chapter), (24, "3.5 业务创新"), (24, "创新内容。"), (56, chapter), (56, "3.6 风险管理"),
             (56, "本行建立了全面风险管理体系。"), (56, "3.6.1 信用风险"), (56, "信用风险内容。" * 400), (57, chapter),
             (57, "3.6.2 市场风险"), (57, "市场风险内容。"), (58, chapter), (58, "3.6.3 流动性风险"), (58, "流动性内容。"),
             (58, "3.7 未来展望"), (58, "3.7.1 宏观展望")]
    found = read_section(lines, _topic("风险"))
    # the parts past the context budget are listed; the next sibling's are not
    assert found.text.startswith("主要包括：3.6.1 信用风险；3.6.2 市场风险；3.6.3 流动性风险。本行建立")
    assert "宏观" not in found.text


def test_a_part_titled_with_the_topic_answers_instead_of_its_section():
    lines = [(11, "1.2 报告期内公司从事的主要业务"), (11, "1.2.1 所处行业基本情况"), (11, "银行业稳健发展。"),
             (11, "1.2.2 从事的主要业务"), (11, "本行经营吸收公众存款、发放贷款等业务。"), (11, "1.3 发展战略")]
    found = read_section(lines, _topic("主营业务"))
    assert found.heading == "1.2.2 从事的主要业务" and found.text == "本行经营吸收公众存款、发放贷款等业务。"
    # without such a part the whole section answers
    whole = read_section(lines, _topic("经营模式"))
    assert whole.heading == "1.2 报告期内公司从事的主要业务" and "银行业稳健发展" in whole.text


def test_numbered_points_inside_a_part_are_no_parts_of_the_section():
    lines = [(30, "四、可能面对的风险"), (30, "1、政策风险"), (30, "政策变化。"), (30, "2、汇率风险"), (30, "汇率波动。"),
             (30, "1、应对措施"), (30, "加强管理。"), (31, "五、其他")]
    assert read_section(lines, _topic("风险")).text.startswith("主要包括：1、政策风险；2、汇率风险。")


def test_a_key_audit_matters_table_lists_its_rows_and_skips_the_standard_paragraphs():
    # Big-four layout: the matters are rows of a two-column table, each opening with its title; the table
    # runs over pages under 「（续）」 labels.
    lines = [(116, "三、关键审计事项"), (116, "关键审计事项是我们根据职业判断，认为对本期财务报表审计最为重要的事项。"),
             (117, "审计报告（续）"), (117, "三、关键审计事项（续）"), (117, "关键审计事项 该事项在审计中是如何应对"),
             (117, "贷款的预期信用损失本行在预期信用损失的计量中使用了多个模型和假设，例如："),
             (117, "1. 信用风险显著增加：选择认定标准高度依赖判断；"), (117, "2. 模型和参数：模型复杂；"),
             (118, "审计报告（续）"), (118, "三、关键审计事项（续）"), (118, "关键审计事项 该事项在审计中是如何应对"),
             (118, "贷款的预期信用损失（续） 评估并测试模型的关键控制。"), (118, "结构化主体合并评估"),
             (118, "本行持有不同的结构化主体的权益。"), (119, "四、其他信息")]
    found = read_section(lines, _topic("关键审计事项"))
    assert found.text.startswith("主要包括：贷款的预期信用损失；结构化主体合并评估。贷款的预期信用损失本行")
    assert "职业判断" not in found.text and "（续）" not in found.text and "1. 信用风险显著增加；" not in found.text


BANK_PDF = next((Path(__file__).parent / "data" / "reports").glob("*平安银行*2024*.pdf"))


@pytest.fixture(scope="module")
def bank_lines():
    pages = read_pdf_text(BANK_PDF).pages
    rows = make_chunks(pages, find_sections(pages), company_code="000001", year=2024)
    return [(r["page"], ln) for r in rows for ln in r["text"].split("\n")]


def test_real_bank_report_sections(bank_lines):
    business = read_section(bank_lines, _topic("主营业务"))
    assert business.heading == "1.2.2 从事的主要业务" and "吸收公众存款" in business.text
    risks = read_section(bank_lines, _topic("风险"))
    assert risks.heading == "3.6 风险管理" and all(r in risks.text for r in ("信用风险", "市场风险", "流动性风险"))
    duty = read_section(bank_lines, _topic("社会责任"))
    assert duty.heading == "5.2 社会责任" and "乡村振兴" in duty.text
    matters = read_section(bank_lines, _topic("关键审计事项"))
    assert matters.text.startswith("主要包括：发放贷款和垫款、债权投资和信贷承诺的预期信用损失；结构化主体合并评估。")
    assert "职业判断" not in matters.text
