"""Unit tests of the ingestion pieces on synthetic rows: numbers, units, column layouts, label mapping,
banks / insurers / brokers, wrapped labels, page breaks, restatements, key-value tables, chunks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingestion.basic_info import extract_basic
from ingestion.chunks import make_chunks
from ingestion.filenames import parse_filename
from ingestion.locate import heading_form, locate_statements
from ingestion.numbers import find_unit, parse_count, parse_number
from ingestion.rd import extract_rd
from ingestion.sections import find_sections
from ingestion.staff import extract_staff
from ingestion.statements import RESTATED_NOTE, header_layout, parse_statement
from ingestion.tables import PageTable


def vals(values):
    return {v.field: v.value for v in values}


# Numbers and units -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,expected",
    [
        ("905,402,299.44", Decimal("905402299.44")),
        ("(1,234.50)", Decimal("-1234.50")),
        ("（1,234.50）", Decimal("-1234.50")),
        ("-12,024,894.14", Decimal("-12024894.14")),
        ("－3.5", Decimal("-3.5")),
        ("1,234,\n567.00", Decimal("1234567.00")),
        ("12.23%", Decimal("12.23")),
        ("-", None),
        ("—", None),
        ("", None),
        ("七、1", None),
        ("不适用", None),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


def test_parse_count_rejects_fractions():
    assert parse_count("1,406") == 1406
    assert parse_count("14.5") is None


@pytest.mark.parametrize(
    "text,unit",
    [("单位:元 币种:人民币", "元"), ("单位：千元", "千元"), ("单位：人民币万元", "万元"),
     ("（除特别注明外，金额单位均为人民币百万元）", "百万元"), ("项目 附注 人民币百万元", "百万元"),
     ("币种：人民币 单位：千元", "千元"), ("no unit here", "元")],
)
def test_find_unit(text, unit):
    assert find_unit(text) == unit


# Statement layouts -----------------------------------------------------------------------------
def table(rows, page=10, flavor="lattice"):
    return PageTable(page, [list(r) for r in rows], flavor)


def test_header_layout_years_and_note_column():
    lay = header_layout(["项目", "附注", "2019 年 12 月 31 日", "2018 年 12 月 31 日"])
    assert (lay.label_col, lay.current_col, lay.prior_col) == (0, 2, 3)


def test_header_layout_prior_first_is_swapped():
    lay = header_layout(["项目", "上年金额", "本年金额"])
    assert (lay.current_col, lay.prior_col) == (2, 1)


def test_header_layout_words():
    lay = header_layout(["项目", "附注", "期末余额", "期初余额"])
    assert (lay.current_col, lay.prior_col) == (2, 3)


def test_data_row_is_not_a_header():
    assert header_layout(["加：期初现金及现金等价物余额", "", "598,780,835.94", "872,443,551.54"]) is None


def test_general_balance_sheet_units_negatives_and_sub_items():
    rows = [
        ["项目", "附注", "2020年12月31日", "2019年12月31日"],
        ["流动资产：", "", "", ""],
        ["货币资金", "七、1", "1,234.56", "(100.00)"],
        ["其中：应收利息", "", "-", ""],
        ["应收票据", "", "", "5.00"],
        ["资产总计", "", "10,000.00", "9,000.00"],
        ["负债和所有者权益（或股东\n权益）总计", "", "10,000.00", "9,000.00"],
    ]
    res = parse_statement("balance", [table(rows)], "千元")
    cur, prior = vals(res.current), vals(res.prior)
    assert cur["货币资金"] == Decimal("1234560.00")
    assert prior["货币资金"] == Decimal("-100000.00")
    assert "应收利息" not in cur and "应收票据" not in cur
    assert prior["应收票据"] == Decimal("5000.00")
    assert cur["负债和所有者权益总计"] == Decimal("10000000.00")
    v = next(v for v in res.current if v.field == "货币资金")
    assert (v.page, v.raw_label, v.raw_text) == (10, "货币资金", "1,234.56")


def test_statement_across_pages_stops_at_parent_statement():
    page1 = [["项目", "附注", "2019年度", "2018年度"], ["一、营业总收入", "", "100.00", "90.00"],
             ["其中：营业收入", "", "100.00", "90.00"]]
    page2 = [["利润总额", "", "30.00", "20.00"], ["五、净利润（净亏损以“－”号填列）", "", "25.00", "15.00"]]
    parent = [["项目", "附注", "2019年度", "2018年度"], ["一、营业收入", "", "7.00", "6.00"],
              ["五、净利润", "", "1.00", "1.00"]]
    res = parse_statement("income", [table(page1, 63), table(page2, 64), table(parent, 64)], "元", boundaries={63, 64})
    cur = vals(res.current)
    assert cur["营业收入"] == Decimal("100.00") and cur["净利润"] == Decimal("25.00")
    assert res.pages == [63, 64]


def test_tail_of_previous_statement_above_heading_is_skipped():
    tail = [["未分配利润", "", "5.00", "4.00"], ["负债和所有者权益总计", "", "99.00", "98.00"]]
    own = [["项目", "附注", "2019年度", "2018年度"], ["营业收入", "", "100.00", "90.00"], ["净利润", "", "9.00", "8.00"]]
    res = parse_statement("income", [table(tail, 63), table(own, 63)], "元")
    assert vals(res.current) == {"营业收入": Decimal("100.00"), "净利润": Decimal("9.00")}


def test_repeated_header_on_continuation_page_does_not_end_statement():
    p1 = [["项目", "期末余额", "期初余额"], ["货币资金", "1.00", "2.00"]]
    p2 = [["项目", "期末余额", "期初余额"], ["资产总计", "10.00", "20.00"]]
    res = parse_statement("balance", [table(p1, 40), table(p2, 41)], "元", boundaries={40})
    assert vals(res.current) == {"货币资金": Decimal("1.00"), "资产总计": Decimal("10.00")}


def test_stream_wrapped_label_is_joined():
    rows = [["项目", "2019年12月31日", "2018年12月31日"], ["以公允价值计量且其变动", "", ""],
            ["计入当期损益的金融负债", "", "6,049,569.00"], ["负债合计", "7.00", "8.00"]]
    res = parse_statement("balance", [table(rows, flavor="stream")], "元")
    assert vals(res.prior)["公允价值计量且变动计入损益的金融负债"] == Decimal("6049569.00")


def test_first_non_empty_value_wins():
    rows = [["项目", "2019年度", "2018年度"], ["利息收入", "", ""], ["财务费用", "-5.00", "-4.00"],
            ["利息收入", "15.00", "17.00"], ["利息收入", "99.00", "99.00"]]
    res = parse_statement("income", [table(rows)], "元")
    assert vals(res.current)["利息收入"] == Decimal("15.00")


def test_per_share_figures_ignore_the_unit():
    rows = [["项目", "2019年度", "2018年度"], ["净利润", "1.00", "2.00"], ["（一）基本每股收益(元/股)", "0.62", "0.88"]]
    res = parse_statement("income", [table(rows)], "万元")
    assert vals(res.current) == {"净利润": Decimal("10000.00"), "基本每股收益": Decimal("0.62")}


def test_restated_prior_column_is_marked():
    rows = [["项目", "2020年12月31日", "2019年12月31日（已重述）"], ["货币资金", "1.00", "2.00"]]
    res = parse_statement("balance", [table(rows)], "元")
    assert res.prior[0].note == RESTATED_NOTE


def test_restated_and_as_reported_columns_kept_apart():
    rows = [["项目", "2020年12月31日", "2019年12月31日（调整前）", "2019年12月31日（调整后）"],
            ["货币资金", "1.00", "2.00", "3.00"]]
    res = parse_statement("balance", [table(rows)], "元")
    assert vals(res.prior) == {"货币资金": Decimal("2.00")}
    assert vals(res.restated) == {"货币资金": Decimal("3.00")}
    assert res.restated[0].note == RESTATED_NOTE


# Financial companies ---------------------------------------------------------------------------
def test_bank_balance_sheet_group_columns_in_millions():
    rows = [
        ["项目", "附注", "本集团", "", "本行", ""],
        ["", "", "2020年12月31日", "2019年12月31日", "2020年12月31日", "2019年12月31日"],
        ["资产：", "", "", "", "", ""],
        ["现金及存放中央银行款项", "五、1", "500,000", "480,000", "490,000", "470,000"],
        ["发放贷款和垫款", "五、7", "4,000,000", "3,500,000", "3,900,000", "3,400,000"],
        ["资产总计", "", "8,000,000", "7,000,000", "7,900,000", "6,900,000"],
        ["吸收存款", "", "5,500,000", "5,000,000", "5,400,000", "4,900,000"],
        ["负债合计", "", "7,300,000", "6,400,000", "7,200,000", "6,300,000"],
        ["归属于本行股东权益合计", "", "690,000", "590,000", "700,000", "600,000"],
        ["股东权益合计", "", "700,000", "600,000", "700,000", "600,000"],
        ["负债及股东权益总计", "", "8,000,000", "7,000,000", "7,900,000", "6,900,000"],
    ]
    res = parse_statement("balance", [table(rows)], "百万元")
    cur, prior = vals(res.current), vals(res.prior)
    assert cur["资产总计"] == Decimal("8000000000000")
    assert prior["资产总计"] == Decimal("7000000000000")
    assert cur["发放贷款和垫款"] == Decimal("4000000000000")
    assert cur["吸收存款"] == Decimal("5500000000000")
    assert cur["负债合计"] == Decimal("7300000000000")
    assert cur["归属于母公司所有者权益合计"] == Decimal("690000000000")
    assert cur["现金及存放中央银行款项"] == Decimal("500000000000")


def test_bank_income_statement_fills_generic_fields():
    rows = [
        ["项目", "2020年", "2019年"],
        ["一、营业收入", "150,000", "140,000"],
        ["利息净收入", "100,000", "95,000"],
        ["利息收入", "200,000", "190,000"],
        ["利息支出", "(100,000)", "(95,000)"],
        ["手续费及佣金净收入", "30,000", "28,000"],
        ["二、营业支出", "(80,000)", "(75,000)"],
        ["业务及管理费", "(40,000)", "(38,000)"],
        ["信用减值损失", "(30,000)", "(29,000)"],
        ["三、营业利润", "70,000", "65,000"],
        ["四、利润总额", "69,000", "64,000"],
        ["五、净利润", "55,000", "52,000"],
        ["归属于本行股东的净利润", "54,000", "51,000"],
        ["稀释每股收益(人民币元)", "1.20", "1.10"],
    ]
    res = parse_statement("income", [table(rows)], "百万元")
    cur = vals(res.current)
    assert cur["营业收入"] == Decimal("150000000000")
    assert cur["利息净收入"] == Decimal("100000000000")
    assert cur["利息支出"] == Decimal("-100000000000")
    assert cur["手续费及佣金净收入"] == Decimal("30000000000")
    assert cur["营业支出"] == Decimal("-80000000000")
    assert cur["业务及管理费"] == Decimal("-40000000000")
    assert cur["利润总额"] == Decimal("69000000000")
    assert cur["净利润"] == Decimal("55000000000")
    assert cur["归属于母公司所有者的净利润"] == Decimal("54000000000")
    assert cur["稀释每股收益"] == Decimal("1.20")  # per share: not scaled by 百万元


def test_insurer_income_statement():
    rows = [["项目", "2020年度", "2019年度"], ["一、营业收入", "1,000", "900"], ["已赚保费", "800", "700"],
            ["保险业务收入", "850", "750"], ["减：分出保费", "(30)", "(25)"], ["提取未到期责任准备金", "(20)", "(25)"],
            ["二、营业支出", "(900)", "(800)"], ["退保金", "(10)", "(9)"], ["赔付支出", "(300)", "(280)"],
            ["提取保险责任准备金", "(200)", "(190)"], ["三、营业利润", "100", "100"], ["四、利润总额", "99", "98"],
            ["五、净利润", "80", "79"]]
    cur = vals(parse_statement("income", [table(rows)], "百万元").current)
    assert cur["已赚保费"] == Decimal("800000000")
    assert cur["保险业务收入"] == Decimal("850000000")
    assert cur["分出保费"] == Decimal("-30000000")
    assert cur["赔付支出"] == Decimal("-300000000")
    assert cur["营业收入"] == Decimal("1000000000") and cur["净利润"] == Decimal("80000000")


def test_broker_balance_and_cash_flow_items():
    bal = [["项目", "期末余额", "期初余额"], ["货币资金", "10,000", "9,000"], ["其中：客户资金存款", "8,000", "7,000"],
           ["结算备付金", "2,000", "1,500"], ["融出资金", "5,000", "4,000"], ["存出保证金", "300", "200"],
           ["资产总计", "40,000", "35,000"], ["代理买卖证券款", "9,000", "8,000"], ["负债合计", "30,000", "26,000"]]
    cur = vals(parse_statement("balance", [table(bal)], "元").current)
    assert cur["客户资金存款"] == Decimal("8000") and cur["融出资金"] == Decimal("5000")
    assert cur["代理买卖证券款"] == Decimal("9000") and cur["资产总计"] == Decimal("40000")
    cf = [["项目", "本期发生额", "上期发生额"], ["收取利息、手续费及佣金的现金", "1,000", "900"],
          ["回购业务资金净增加额", "500", "-"], ["代理买卖证券收到的现金净额", "700", "600"],
          ["经营活动产生的现金流量净额", "1,200", "800"]]
    cf += [["加：年初现金及现金等价物余额", "3,000", "2,500"], ["六、年末现金及现金等价物余额", "4,200", "3,000"]]
    res = parse_statement("cash_flow", [table(cf)], "元")
    assert vals(res.current)["期初现金及现金等价物余额"] == Decimal("3000")
    assert vals(res.prior)["期末现金及现金等价物余额"] == Decimal("3000")
    assert vals(res.current)["收取利息、手续费及佣金的现金"] == Decimal("1000")
    assert "回购业务资金净增加额" not in vals(res.prior)


# Locating --------------------------------------------------------------------------------------
def test_statement_unit_is_the_one_under_its_heading():
    from ingestion.locate import statement_unit

    page = "负债和所有者权益总计 1 2\n单位：千元\n合并利润表\n2019 年 1—12 月\n单位：元 币种：人民币\n营业收入 1 2"
    assert statement_unit("income", page) == "元"


def test_heading_form():
    assert heading_form("1、合并资产负债表 ") == "合并资产负债表"
    assert heading_form("合并资产负债表（续）") == "合并资产负债表"


def test_locate_statements_skips_mentions_and_parent():
    pages = ["第十一节 财务报告\n审计意见\n我们审计了合并及母公司资产负债表、合并利润表。",
             "合并资产负债表\n项目 附注 2019年 2018年\n货币资金 1 2",
             "资产总计 3 4\n母公司资产负债表\n货币资金 5 6",
             "合并利润表\n营业收入 1 2", "母公司利润表\n营业收入 1 2",
             "合并现金流量表\n销售商品 1 2", "现金流量表补充资料", "母公司现金流量表"]
    found, boundaries = locate_statements(pages, find_sections(pages))
    assert found == {"balance": [2, 3], "income": [4, 5], "cash_flow": [6, 7, 8]}
    assert boundaries["balance"] == {3, 4, 5, 6, 8}


def test_continuation_heading_does_not_end_the_statement_but_plain_parent_heading_does():
    pages = ["第十一节 财务报告", "合并资产负债表\n货币资金 1 2", "合并资产负债表（续）\n负债合计 1 2",
             "资产负债表\n货币资金 1 2", "合并利润表"]
    found, boundaries = locate_statements(pages, find_sections(pages))
    assert found["balance"] == [2, 3, 4] and boundaries["balance"] == {4, 5}


def test_sections_skip_the_table_of_contents():
    pages = ["目录\n第一节 释义......4\n第二节 公司简介和主要财务指标......5",
             "第一节 释义\n第二节 公司简介和主要财务指标", "正文", "第三节 公司业务概要", "更多"]
    secs = find_sections(pages)
    assert [(s.number, s.start, s.end) for s in secs.sections] == [("第一节", 2, 2), ("第二节", 2, 3), ("第三节", 4, 5)]
    assert secs.at(3).title == "公司简介和主要财务指标"


# Key-value tables ------------------------------------------------------------------------------
def test_basic_info_tables():
    tables = {4: [
        table([["公司的中文名称", "四方科技集团股份有限公司"], ["公司的中文简称", "四方科技"],
               ["公司的外文名称", "SQUARE TECHNOLOGY\nGROUP CO.,LTD"], ["公司的法定代表人", "黄杰"]], 4),
        table([["", "董事会秘书", "证券事务代表"], ["姓名", "饶伟", "-"], ["电话", "0513-81658162", ""],
               ["电子信箱", "secretary@example.com", ""]], 4),
        table([["公司注册地址", "江苏省南通市通州区兴仁镇\n金通公路3888号"], ["公司办公地址", "上海市浦东新区1号"],
               ["电子信箱", "zqb@example.com"]], 4),
    ], 5: [
        table([["公司股票简况", "", "", "", ""], ["股票种类", "股票上市交易所", "股票简称", "股票代码", "变更前股票简称"],
               ["A股", "上海证券交易所", "四方科技", "603339", "四方冷链"]], 5),
        table([["公司聘请的会计师事务所（境\n内）", "名称", "天健会计师事务所（特殊普通合伙）"],
               ["", "办公地址", "杭州市钱江路1366号"]], 5),
    ]}
    got = vals(extract_basic(tables, {}))
    assert got["公司名称"] == "四方科技集团股份有限公司"
    assert got["外文名称"] == "SQUARE TECHNOLOGY GROUP CO.,LTD"
    assert got["董事会秘书"] == "饶伟" and "证券事务代表" not in got
    assert got["联系电话"] == "0513-81658162"
    assert got["电子信箱"] == "zqb@example.com"  # the company's, not the secretary's
    assert got["注册地址"] == "江苏省南通市通州区兴仁镇金通公路3888号"
    assert got["办公地址"] == "上海市浦东新区1号"  # not the auditor's office
    assert got["证券代码"] == "603339" and got["股票上市交易所"] == "上海证券交易所"
    assert got["会计师事务所"] == "天健会计师事务所（特殊普通合伙）"
    assert (got["省份"], got["城市"]) == ("江苏省", "南通市")


def test_staff_table_and_text_fallback():
    tables = {52: [table([["在职员工的数量合计", "1,406"], ["专业构成类别", "专业构成人数"], ["生产人员", "940"],
                          ["研发人员", "50"], ["合计", "1,406"], ["教育程度类别", "数量（人）"], ["博士", "1"],
                          ["硕士研究生", "14"], ["大专以下", "831"]], 52)]}
    got = vals(extract_staff(tables, {53: "本科 204\n大专 356"}))
    assert got == {"职工总数": 1406, "生产人员": 940, "研发人员数量": 50, "博士人数": 1, "硕士人数": 14,
                   "高中及以下人数": 831, "本科人数": 204, "大专人数": 356}


def test_rd_table_units_and_szse_layout():
    texts = {17: "4. 研发投入\n(1). 研发投入情况表\n单位：万元\n"}
    tables = {17: [table([["本期费用化研发投入", "100.5"], ["研发投入合计", "120.5"],
                          ["研发投入总额占营业收入比例（%）", "4.12%"], ["公司研发人员的数量", "172"]], 17)]}
    got = vals(extract_rd(tables, texts))
    assert got == {"费用化研发投入": Decimal("1005000.0"), "研发投入合计": Decimal("1205000.0"),
                   "研发投入占营业收入比例": Decimal("4.12"), "研发人员数量": 172}
    szse = {30: [table([["", "2020年", "2019年", "变动比例"], ["研发人员数量（人）", "269", "200", "34.50%"],
                        ["研发投入金额（元）", "206,997,240.33", "150,000,000.00", "38%"]], 30)]}
    got = vals(extract_rd(szse, {30: "单位：元"}))
    assert got == {"研发人员数量": 269, "研发投入合计": Decimal("206997240.33")}


# Staff and R&D tables from the page text, and when camelot reads them after all ------------------------
STAFF_PAGE = ("六、母公司和主要子公司的员工情况\n(一) 员工情况\n母公司在职员工的数量 42\n主要子公司在职员工的数量 1,402\n"
              "在职员工的数量合计 1,444\n母公司及主要子公司需承担费用的离退休职\n工人数\n19\n专业构成\n"
              "专业构成类别 专业构成人数\n生产人员 390\n其他人员 164\n合计 1,444\n教育程度\n硕士 14 本科 536\n"
              "(二) 薪酬政策\n")


def test_text_lines_read_a_label_wrapped_over_two_lines_and_two_pairs_on_one_line():
    from ingestion.staff import read_staff_text

    reading = read_staff_text({59: STAFF_PAGE})
    assert reading.settled, reading.doubts
    got = vals(reading.values)
    assert got["离退休职工人数"] == 19  # label on two lines, its figure on a third
    assert (got["硕士人数"], got["本科人数"]) == (14, 536)  # two columns of the table on one line
    assert got["职工总数"] == 1444 and got["生产人员"] == 390
    staff = next(v for v in reading.values if v.field == "离退休职工人数")
    assert staff.page == 59 and staff.raw_label == "母公司及主要子公司需承担费用的离退休职工人数"


@pytest.mark.parametrize("page, doubt", [
    # A figure no label took: a table reader may place it.
    (STAFF_PAGE.replace("工人数\n19", "工\n人数\n19"), "「19」"),  # a label wrapped over three lines
    # 母公司 + 主要子公司 ≠ 合计: a figure misread.
    (STAFF_PAGE.replace("1,402", "1,412"), "职工总数"),
    # No total: the table was not read.
    (STAFF_PAGE.replace("在职员工的数量合计 1,444\n", ""), "未读到职工总数"),
])
def test_a_doubtful_text_reading_of_the_staff_table_says_why(page, doubt):
    from ingestion.staff import read_staff_text

    reading = read_staff_text({59: page})
    assert not reading.settled
    assert any(doubt in d for d in reading.doubts), reading.doubts


def test_rd_text_reading_checks_its_total_against_its_parts_in_the_tables_unit():
    from ingestion.rd import read_rd_text

    page = ("4. 研发投入\n(1). 研发投入情况表\n单位：万元\n本期费用化研发投入 100.5\n本期资本化研发投入 20.0\n"
            "研发投入合计 120.5\n研发投入总额占营业收入比\n例（%） 4.12\n公司研发人员的数量 172\n")
    reading = read_rd_text({17: page})
    assert reading.settled, reading.doubts
    assert vals(reading.values) == {"费用化研发投入": Decimal("1005000.0"), "资本化研发投入": Decimal("200000.0"),
                                    "研发投入合计": Decimal("1205000.0"), "研发投入占营业收入比例": Decimal("4.12"),
                                    "研发人员数量": 172}
    broken = read_rd_text({17: page.replace("研发投入合计 120.5", "研发投入合计 130.5")})
    assert not broken.settled and "研发投入合计" in broken.doubts[0]


def test_extraction_spares_camelot_the_tables_their_text_settles(monkeypatch, sample_pdf):
    import ingestion.extract as extract
    from ingestion.keyvalue import TextReading

    pdf = sample_pdf
    asked: list[list[int]] = []
    real = extract.extract_tables
    monkeypatch.setattr(extract, "extract_tables", lambda path, pages: asked.append(pages) or real(path, pages))
    settled = extract.extract_report(pdf)
    assert settled.timings["camelot_tables"] == 2  # basic and indicators; staff and rd came from the text
    staff_pages = {v.page for v in settled.current if v.field == "职工总数"}
    assert staff_pages and not staff_pages & set(asked[-1])
    # A text reading in doubt: camelot reads the staff page, and the values are the same.
    monkeypatch.setitem(extract.TEXT_FIRST_TABLES, "staff",
                        lambda texts: TextReading([], ["a doubt"]))
    doubted = extract.extract_report(pdf)
    assert doubted.timings["camelot_tables"] == 3 and staff_pages <= set(asked[-1])
    staff = {v.field: v.value for v in settled.current if v.field in ("职工总数", "生产人员", "本科人数")}
    assert staff == {v.field: v.value for v in doubted.current if v.field in staff} and len(staff) == 3


# File names and chunks -------------------------------------------------------------------------
def test_parse_filename():
    ident = parse_filename("2020-04-16__四方科技集团股份有限公司__603339__四方科技__2019年__年度报告.pdf")
    assert (ident.code, ident.full_name, ident.short_name, ident.year) == ("603339", "四方科技集团股份有限公司", "四方科技", 2019)
    loose = parse_filename("600201_2020_annual.pdf")
    assert (loose.code, loose.year, loose.full_name) == ("600201", 2020, None)


def test_chunks_are_section_aware_and_sized():
    banner = "2019 年年度报告"
    body = "公司主要从事冷链装备的研发、生产和销售。" * 30
    pages = [f"{banner}\n1 / 3\n第一节 释义\n{body}", f"{banner}\n2 / 3\n{body}", f"{banner}\n3 / 3\n第二节 公司简介\n短句。"]
    rows = make_chunks(pages, find_sections(pages), company_code="603339", year=2019, report_id=1, size=200)
    assert rows and all(len(r["text"]) <= 260 for r in rows)
    assert all(banner not in r["text"] for r in rows)
    assert {r["section"] for r in rows if r["page"] == 2} == {"第一节 释义"}
    assert {r["section"] for r in rows if r["page"] == 3} == {"第二节 公司简介"}
    assert all(r["company_code"] == "603339" and r["year"] == 2019 for r in rows)


# Text-layer fallback for statements -------------------------------------------------------------
def test_text_fallback_rows_and_wrapped_labels():
    from ingestion.statement_text import line_row, text_tables

    assert line_row("货币资金 七、1 905,402,299.44 627,041,535.44") == ["货币资金七、1", "905,402,299.44", "627,041,535.44"]
    assert line_row("应收票据 4,668,878.50") == ["应收票据", "", ""]  # one figure: column unknown
    page1 = ("母公司利润表 tail 1,000.00 2,000.00\n合并资产负债表\n单位：元\n项目 附注 2019 年 12 月 31 日 2018 年 12 月 31 日\n"
             "货币资金 七、1 905,402,299.44 627,041,535.44\n以公允价值计量且其变动\n计入当期损益的金融负债\n1,000.00 2,000.00\n")
    page2 = ("归属于母公司所有者权益\n（或股东权益）合计\n1,745,401,890.46 1,645,226,020.07\n"
             "母公司资产负债表\n货币资金 122,775,584.93 219,607,349.88\n")
    res = parse_statement("balance", text_tables("balance", {59: page1, 61: page2}), "元")
    cur, prior = vals(res.current), vals(res.prior)
    assert cur["货币资金"] == Decimal("905402299.44") and prior["货币资金"] == Decimal("627041535.44")
    assert cur["公允价值计量且变动计入损益的金融负债"] == Decimal("1000.00")
    assert cur["归属于母公司所有者权益合计"] == Decimal("1745401890.46")


def test_opening_balance_column_is_prior_year_marked_restated():
    lay = header_layout(["项目", "附注", "2020年12月31日", "2020年1月1日"])
    assert (lay.current_col, lay.prior_col, lay.prior_restated) == (2, 3, True)
    lay = header_layout(["项目", "附注", "2020年12月31日", "2019年12月31日"])
    assert (lay.current_col, lay.prior_col, lay.prior_restated) == (2, 3, False)


def test_text_lines_join_a_wrapped_address_but_not_the_next_row():
    from ingestion.keyvalue import read_lines, resolver_for

    text = ("公司注册地址 内蒙古自治区呼和浩特市经济技术开发区沙尔沁工业\n园区金宇大街1号\n公司注册地址的邮政编码 010111\n"
            "公司的法定代表人 张翀宇\n二、 联系人和联系方式\n"
            "公司选定的信息披露媒体名称 上海证券报\n登载年度报告的中国证监会指定网站的网址 www.sse.com.cn")
    got = {r.field.name: r.raw for r in read_lines(text, resolver_for(("basic",)))}
    assert got["注册地址"] == "内蒙古自治区呼和浩特市经济技术开发区沙尔沁工业\n园区金宇大街1号"
    assert got["注册地址的邮政编码"] == "010111"
    assert got["法定代表人"] == "张翀宇"
    assert got["信息披露媒体"] == "上海证券报"


def test_a_label_ending_on_the_row_after_its_figures_is_joined():
    # Page text lines split a wrapped cell: the figures stand on the label's first line.
    rows = [["项目", "2019年度", "2018年度"], ["投资收益（损失以“－”号填", "-12,558,289.50", "-7,090,058.91"], ["列）", "", ""],
            ["利润总额", "145,623,928.45", "215,706,027.04"]]
    res = parse_statement("income", [table(rows, flavor="positioned")], "元")
    assert {v.field: v.value for v in res.current}["投资收益"] == Decimal("-12558289.50")


def test_a_row_naming_its_own_field_is_not_a_label_tail():
    # A row of figures without a label, then 资本公积 on a row of its own: not one line item.
    rows = [["项目", "2024年", "2023年"], ["", "49,995", "49,991"], ["资本公积", "", ""], ["", "80,713", "80,761"]]
    res = parse_statement("balance", [table(rows, flavor="stream")], "百万元")
    assert {v.field: v.value for v in res.current}.get("资本公积") == Decimal("80713000000")


def test_cash_outflows_printed_as_deductions_are_stored_as_amounts():
    # 平安银行 prints its outflows in parentheses (投资支付的现金 (676,348)); 「投资支付的现金」 is the amount paid.
    from ingestion.extract import COST_AS_PRINTED, costs_as_amounts
    from knowledge.store import Value

    printed = [Value("投资支付的现金", Decimal("-676348000000"), page=130), Value("筹资活动现金流出小计", Decimal("-5")),
               Value("投资活动产生的现金流量净额", Decimal("-12"))]
    stored = {v.field: v for v in costs_as_amounts(printed)}
    assert stored["投资支付的现金"].value == Decimal("676348000000") and COST_AS_PRINTED in stored["投资支付的现金"].note
    assert stored["筹资活动现金流出小计"].value == 5
    assert stored["投资活动产生的现金流量净额"].value == -12  # a net figure keeps its sign
