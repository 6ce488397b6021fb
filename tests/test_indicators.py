"""主要会计数据和财务指标 (issue 13): the headline indicator tables of the three bundled reports against the
hand-made truth lists, the bank's statements and ratios, 调整后 preferred over 调整前, quarters that add up
to the year, and the bank layouts (note references, multi-address cells, staff in prose, the cash-flow
supplement)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.accuracy import load_truth, same, score
from ingestion.extract import extract_report
from ingestion.indicators import (
    AS_REPORTED_NOTE,
    FILLABLE_STATEMENTS,
    QUARTERLY_BASES,
    RESTATED_NOTE,
    extract_indicators,
    quarter_field,
)
from ingestion.locate import locate
from ingestion.pipeline import commit_extraction
from ingestion.sections import find_sections
from ingestion.tables import PageTable
from knowledge.fields import field_dictionary
from knowledge.store import Company, Store

DATA = Path(__file__).parent / "data"
TRUTH = DATA / "truth"
SAMPLE = next((Path(__file__).parent.parent / "ingestion" / "samples").glob("*四方科技*2019*.pdf"))
REPORTS = {
    "603339_2019.json": SAMPLE,
    "600201_2020.json": next((DATA / "reports").glob("*生物股份*2020*.pdf")),
    "000001_2024.json": next((DATA / "reports").glob("*平安银行*2024*.pdf")),
}


@pytest.fixture(scope="session")
def ingested(tmp_path_factory):
    """The three reports extracted once and written to one store: (store, {truth: (extraction, indicator pages)})."""
    home = tmp_path_factory.mktemp("indicators")
    store = Store(f"sqlite:///{home / 'nianbao.sqlite'}")
    out = {}
    for truth, pdf in REPORTS.items():
        ex = extract_report(pdf)
        assert commit_extraction(store, ex).ok
        pages = locate(ex.pages, find_sections(ex.pages)).tables.get("indicators", [])
        out[truth] = (ex, pages)
    return store, out


def _indicator_items(truth: str, pages: list[int]) -> list[dict]:
    """The truth list's figures printed on the indicator pages (公司简介 rows may share the first one)."""
    fields = field_dictionary()
    return [v for v in load_truth(TRUTH / truth)["values"]
            if v["page"] in pages and fields[v["field"]].statement in FILLABLE_STATEMENTS]


@pytest.mark.parametrize("truth", list(REPORTS))
def test_indicator_tables_match_the_truth_list(ingested, truth):
    store, reports = ingested
    _, pages = reports[truth]
    data = load_truth(TRUTH / truth)
    items = _indicator_items(truth, pages)
    assert len(items) >= 30
    assert {v["year"] for v in items} == {data["report_year"] - k for k in (0, 1, 2)}  # three years printed
    wrong = [(v["field"], v["year"], v["value"], (store.row(data["company_code"], v["year"]) or {}).get(v["field"]))
             for v in items if not same(v["value"], (store.row(data["company_code"], v["year"]) or {}).get(v["field"]))]
    assert wrong == []


@pytest.mark.parametrize("truth", list(REPORTS))
def test_every_indicator_value_stored_is_on_the_truth_list(ingested, truth):
    """Precision: no indicator cell (any year) that the hand-made list does not hold, with its value."""
    store, _ = ingested
    data = load_truth(TRUTH / truth)
    listed = {(v["field"], v["year"]): v["value"] for v in data["values"]}
    fields = field_dictionary()
    code = data["company_code"]
    stored = [(f, y, value) for y in store.years(code) for f, value in store.row(code, y).items()
              if fields[f].statement == "other"]
    assert len(stored) >= 30
    assert [(f, y, value) for f, y, value in stored if not same(listed.get((f, y), "∅"), value)] == []


def test_bank_reaches_98_percent_of_its_truth_list_in_both_years(ingested):
    store, _ = ingested
    data = load_truth(TRUTH / "000001_2024.json")
    for year in (2024, 2023):
        part = {**data, "values": [v for v in data["values"] if v["year"] == year]}
        acc = score(store, part)
        assert acc.total >= 140 and acc.rate >= 0.98, "\n".join(acc.lines())


def test_bank_figures_the_statements_do_not_print(ingested):
    """归属于本行股东的净利润 and the 扣非 figures come from the indicator tables, in 元 exactly (百万元 × 10⁶)."""
    store, _ = ingested
    row = store.row("000001", 2024)
    assert row["归属于母公司所有者的净利润"] == Decimal(44508000000)
    assert row["基本每股收益"] == row["稀释每股收益"] == Decimal("2.15")
    prov = store.provenance("000001", 2024, ["不良贷款率"])
    assert prov and prov[0]["page"] in (16, 19) and prov[0]["raw_text"] in ("1.06%", "1.06")


@pytest.mark.parametrize("truth", list(REPORTS))
def test_quarters_add_up_to_the_year(ingested, truth):
    """A consistency check across two tables: Q1+…+Q4 of 分季度主要财务数据 ≈ the annual figure (within the
    rounding of the table's unit)."""
    store, _ = ingested
    data = load_truth(TRUTH / truth)
    row = store.row(data["company_code"], data["report_year"])
    checked = 0
    for base in QUARTERLY_BASES:
        quarters = [row.get(quarter_field(q, base)) for q in (1, 2, 3, 4)]
        if base not in row or None in quarters:
            continue
        checked += 1
        # Printed in 元 to the fen, or rounded to 百万元 (four roundings of half a unit at most).
        step = Decimal(1_000_000) if all(q % 1_000_000 == 0 for q in quarters) else Decimal("0.01")
        assert abs(sum(quarters) - row[base]) <= 2 * step, base
    assert checked == 4


@pytest.mark.parametrize("truth", list(REPORTS))
def test_text_layer_alone_never_disagrees(ingested, truth):
    """Without camelot's tables the text lines still give most indicators, and none wrong."""
    _, reports = ingested
    ex, pages = reports[truth]
    data = load_truth(TRUTH / truth)
    result = extract_indicators({}, {p: ex.pages[p - 1] for p in pages}, data["report_year"])
    got = {(v.field, year): v.value for year, values in result.by_year.items() for v in values}
    items = _indicator_items(truth, pages)
    found = [v for v in items if (v["field"], v["year"]) in got]
    assert [v for v in found if not same(v["value"], got[(v["field"], v["year"])])] == []
    assert len(found) >= 0.75 * len(items)


# Synthetic tables: 调整前/调整后, group and parent side by side, segments, quarter ends ------------------

def _table(rows, page=5):
    return {page: [PageTable(page, rows, "lattice")]}


RESTATED = [
    ["主要会计数据", "2019年", "2018年", "", "本期比上年同期增减(%)", "2017年", ""],
    ["", "", "调整后", "调整前", "调整后", "调整后", "调整前"],
    ["营业收入", "1,200.00", "1,100.00", "1,000.00", "9.09", "900.00", "880.00"],
    ["归属于上市公司股东的扣除非经常性损益的净利润", "120.00", "110.00", "100.00", "9.09", "90.00", "88.00"],
]


def test_restated_columns_are_preferred_and_as_reported_kept(tmp_path):
    result = extract_indicators(_table(RESTATED), {5: "单位：元 币种：人民币"}, 2019)
    by_year = {y: [(v.field, v.value, v.note) for v in vals if v.field == "营业收入"] for y, vals in result.by_year.items()}
    assert by_year[2019] == [("营业收入", Decimal("1200.00"), None)]
    # 调整前 first, 调整后 last: written in this order the 调整后 figure is the one the cell keeps.
    assert by_year[2018] == [("营业收入", Decimal("1000.00"), AS_REPORTED_NOTE),
                             ("营业收入", Decimal("1100.00"), RESTATED_NOTE)]
    assert by_year[2017][-1] == ("营业收入", Decimal("900.00"), RESTATED_NOTE)
    store = Store(f"sqlite:///{tmp_path}/restated.sqlite")
    with store.transaction() as conn:
        store.upsert_company(Company("600000", "测试股份有限公司", "测试股份"), conn)
        store.record_values(conn, "600000", 2018, result.of_year(2018), source="report_prior_year")
    assert store.row("600000", 2018)["扣除非经常性损益后的净利润"] == Decimal("110.00")
    notes = {p["value"]: p["note"] for p in store.provenance("600000", 2018, ["营业收入"])}
    assert notes == {"1000.00": AS_REPORTED_NOTE, "1100.00": RESTATED_NOTE}


def test_szse_layout_adjusted_after_as_reported_and_a_remarks_column():
    """深交所 order: 调整前 then 调整后 under each earlier year; labels carry （元）; 非经常性损益 has 说明."""
    main = [["", "2020年", "2019年", "", "本年比上年增减", "2018年", ""],
            ["", "", "调整前", "调整后", "调整后", "调整前", "调整后"],
            ["营业收入（元）", "2,000.00", "1,500.00", "1,600.00", "25.00%", "1,200.00", "1,300.00"],
            ["加权平均净资产收益率", "8.37%", "4.40%", "4.49%", "增加 3.88 个百分点", "15.00%", "15.56%"]]
    nonrecurring = [["项目", "2020年金额", "2019年金额", "2018年金额", "说明"], ["合计", "14.00", "5.00", "21.00", ""]]
    text = "单位：元\n营业收入（元） 2,000.00\n非经常性损益项目及金额\n单位：元\n合计 14.00 5.00 21.00"
    tables = {6: [PageTable(6, main, "lattice"), PageTable(6, nonrecurring, "lattice")]}
    result = extract_indicators(tables, {6: text}, 2020)
    cells = {}
    for year, vals in result.by_year.items():
        for v in vals:  # written in order: the last value of a field is the cell's
            cells[(v.field, year)] = v.value
    assert cells[("营业收入", 2019)] == Decimal("1600.00") and cells[("营业收入", 2018)] == Decimal("1300.00")
    assert cells[("加权平均净资产收益率", 2019)] == Decimal("4.49")
    assert [cells[("非经常性损益合计", y)] for y in (2020, 2019, 2018)] == [Decimal("14.00"), Decimal(5), Decimal(21)]
    assert len([v for v in result.of_year(2019) if v.field == "营业收入"]) == 2  # 调整前 kept beside it


def test_group_column_is_taken_not_the_parent_one():
    rows = [["项目", "2024年12月31日", "", "2023年12月31日", ""], ["", "本集团", "本行", "本集团", "本行"],
            ["资本充足率", "13.11%", "12.84%", "13.43%", "13.19%"], ["资本净额", "582,713", "567,693", "560,773", "549,165"]]
    text = "2.4.2 资本充足率\n（货币单位：人民币百万元）\n" + "\n".join(" ".join(r) for r in rows)
    result = extract_indicators(_table(rows), {5: text}, 2024)
    values = {(v.field, y): v.value for y, vals in result.by_year.items() for v in vals}
    assert values == {("资本充足率", 2024): Decimal("13.11"), ("资本充足率", 2023): Decimal("13.43"),
                      ("资本净额", 2024): Decimal(582713000000), ("资本净额", 2023): Decimal(560773000000)}


def test_segment_tables_and_quarter_ends_give_nothing_for_the_year():
    segments = [["项目", "零售金融业务", "", "合计", ""], ["", "2024年", "2023年", "2024年", "2023年"],
                ["营业收入", "71,255", "96,161", "146,695", "164,699"]]
    assert extract_indicators(_table(segments), {}, 2024).by_year == {}
    leverage = [["项目", "2024年12月31日", "2024年9月30日", "2024年6月30日"], ["杠杆率", "6.47%", "6.58%", "6.61%"]]
    result = extract_indicators(_table(leverage), {}, 2024)
    values = [(v.field, y, v.value) for y, vals in result.by_year.items() for v in vals]
    assert values == [("杠杆率", 2024, Decimal("6.47"))]


def test_nonrecurring_total_only_inside_its_table():
    rows = [["非经常性损益项目", "2019 年金额", "附注（如适用）", "2018 年金额"], ["非流动资产处置损益", "105.00", "", "71.00"],
            ["合计", "276.00", "", "2,139.00"]]
    fair_value = [["项目名称", "期初余额", "期末余额", "当期变动"], ["合计", "6,049.00", "1,048.00", "-5,001.00"]]
    text = "十、非经常性损益项目和金额\n单位:元\n非经常性损益项目 2019 年金额\n合计 276.00 2,139.00\n" \
           "十一、采用公允价值计量的项目\n项目名称 期初余额 期末余额 当期变动\n合计 6,049.00 1,048.00 -5,001.00"
    tables = {7: [PageTable(7, rows, "lattice"), PageTable(7, fair_value, "lattice")]}
    result = extract_indicators(tables, {7: text}, 2019)
    values = {(v.field, y): v.value for y, vals in result.by_year.items() for v in vals}
    assert values == {("非经常性损益合计", 2019): Decimal("276.00"), ("非经常性损益合计", 2018): Decimal("2139.00")}


# Bank layouts -----------------------------------------------------------------------------------------

def test_text_row_drops_a_note_number_and_reads_parenthesised_integers():
    from ingestion.statement_text import line_row

    assert line_row("基本每股收益(人民币元) 48 2.15 2.25") == ["基本每股收益(人民币元)", "2.15", "2.25"]
    assert line_row("其他综合收益合计 (374) (372)") == ["其他综合收益合计", "(374)", "(372)"]
    assert line_row("货币资金 七、1 905,402,299.44 627,041,535.44")[1:] == ["905,402,299.44", "627,041,535.44"]


def test_one_label_for_basic_and_diluted_eps_fills_both():
    from ingestion.statements import parse_statement

    rows = [["项目", "2024年度", "2023年度"], ["净利润", "44,508", "46,455"], ["基本及稀释每股收益(人民币元)", "2.15", "2.25"]]
    res = parse_statement("income", [PageTable(127, rows, "lattice")], "百万元")
    cur = {v.field: v.value for v in res.current}
    assert cur["基本每股收益"] == cur["稀释每股收益"] == Decimal("2.15")
    assert cur["净利润"] == Decimal(44508000000)


def test_cash_flow_supplement_after_the_last_line_item():
    from ingestion.statements import parse_statement

    rows = [["项目", "2024年度", "2023年度"], ["经营活动产生的现金流量净额", "63,336", "92,461"],
            ["六、年末现金及现金等价物余额", "256,946", "298,219"], ["补充资料", "", ""], ["现金的年末余额", "3,421", "3,687"]]
    res = parse_statement("cash_flow", [PageTable(135, rows, "lattice")], "百万元")
    assert {v.field: v.value for v in res.current}["现金的期末余额"] == Decimal(3421000000)
    # A statement ended by the next one's header does not read on.
    rows = rows[:3] + [["项目", "2024年度", "2023年度"], ["补充资料", "", ""], ["现金的年末余额", "1", "2"]]
    res = parse_statement("cash_flow", [PageTable(135, rows, "lattice")], "百万元")
    assert "现金的期末余额" not in {v.field for v in res.current}


def test_a_cell_listing_two_addresses_and_a_wrapped_one():
    from ingestion.basic_info import extract_basic

    rows = [["办公地址", "中国广东省深圳市深南东路 5047 号\n中国广东省深圳市福田区益田路 5023 号平安金融中心 B 座", "", ""],
            ["注册地址", "内蒙古自治区呼和浩特市经济技术开发区沙尔沁工业\n园区金宇大街1号", "", ""]]
    values = {v.field: v.value for v in extract_basic({9: [PageTable(9, rows, "lattice")]}, {})}
    assert values["办公地址"] == "中国广东省深圳市深南东路 5047 号；中国广东省深圳市福田区益田路 5023 号平安金融中心 B 座"
    assert values["注册地址"] == "内蒙古自治区呼和浩特市经济技术开发区沙尔沁工业园区金宇大街1号"


def test_staff_counts_from_a_sentence():
    from ingestion.staff import extract_staff

    text = ("2024 年末，本集团共有在职员工 41,011 人（含派遣人员），需承担退休费的离职职工 79 人；其\n"
            "中，本行在职员工 40,617 人，平安理财在职员工 394 人。")
    values = {v.field: v.value for v in extract_staff({}, {85: text})}
    assert values == {"职工总数": 41011, "离退休职工人数": 79, "母公司在职员工的数量": 40617}


def test_new_fields_are_named_within_the_column_limit_and_resolve():
    fields = field_dictionary()
    for label, name in [("一季度营收", "第一季度营业收入"), ("Q4扣非净利润", "第四季度扣除非经常性损益后的净利润"),
                        ("不良率", "不良贷款率"), ("NIM", "净息差"), ("核心一级", "核心一级资本充足率"),
                        ("拨备覆盖", "拨备覆盖率"), ("扣除非经常性损益后归属于本行股东的净利润", "扣除非经常性损益后的净利润"),
                        ("投资活动使用的现金流量净额", "投资活动产生的现金流量净额"),
                        ("现金及现金等价物净(减少)/增加额", "现金及现金等价物净增加额")]:
        assert fields.resolve(label).name == name, label
    assert all(len(f.name) <= 21 for f in fields)
    assert fields["拨备覆盖率"].unit == "percent" and fields["逾期60天以上贷款偏离度"].unit == "ratio"


# Bank asset quality: sub-columns under each year, 其中 rows, and the non-recurring and key-value rows --------

def _values(result) -> dict:
    return {(v.field, y): v.value for y, vals in result.by_year.items() for v in vals}


def _page_text(*tables: list[list[str]]) -> str:
    """The text layer of a page printing ``tables`` in 百万元 (where the unit of a table's rows is read)."""
    return "\n".join("（货币单位：人民币百万元）\n" + "\n".join(" ".join(r) for r in rows) for rows in tables)


FIVE_CLASSES = [
    ["项目", "2024年12月31日", "", "2023年12月31日", "", "本年末比上年末增减"],
    ["", "余额", "占比(%)", "余额", "占比(%)", ""],
    ["正常类贷款", "1,000", "90.00", "900", "89.00", "11.1%"],
    ["关注贷款", "50", "5.00%", "40", "4.00%", "25.0%"],
    ["不良贷款", "30", "3.00%", "20", "2.00%", "50.0%"],
    ["其中：次级", "10", "1.00%", "8", "0.80%", "25.0%"],
    ["发放贷款和垫款本金总额", "1,080", "100.00%", "960", "100.00%", "12.5%"],
    ["不良贷款率", "3.00%", "", "2.00%", "", "+1.00 个百分点"],
    ["逾期 90 天以上贷款偏离度（注 1）", "0.90", "", "0.80", "", "+0.10"],
    ["逾期 90 天以上贷款拨备覆盖率", "300.00%", "", "280.00%", "", "+20.00 个百分点"],
]
BY_PRODUCT = [
    ["项目", "2024年12月31日", "", "", "2023年12月31日", "", "", "不良率增减"],
    ["", "贷款余额", "占比", "不良率", "贷款余额", "占比", "不良率", ""],
    ["公司贷款", "600", "55.6%", "2.50%", "500", "52.1%", "1.90%", "+0.60 个百分点"],
    ["贴现", "80", "7.4%", "-", "60", "6.3%", "-", "-"],
    ["零售贷款（注）", "400", "37.0%", "3.70%", "400", "41.7%", "2.20%", "+1.50 个百分点"],
]


def test_sub_columns_under_each_year_name_the_rows_figures():
    """余额 | 占比 | 不良率 under each year: 关注贷款 + 占比 is 关注类贷款占比, 次级 + 余额 次级类贷款余额, 公司贷款 +
    不良率 企业贷款不良率; a row of one figure per year (不良贷款率, a 偏离度 with its note mark) is its own field."""
    tables = {36: [PageTable(36, FIVE_CLASSES, "lattice"), PageTable(36, BY_PRODUCT, "lattice")]}
    values = _values(extract_indicators(tables, {36: _page_text(FIVE_CLASSES, BY_PRODUCT)}, 2024))
    million = Decimal(1_000_000)
    assert values[("正常类贷款余额", 2024)] == 1000 * million and values[("正常类贷款占比", 2023)] == Decimal("89.00")
    assert values[("关注类贷款余额", 2023)] == 40 * million and values[("关注类贷款占比", 2024)] == Decimal("5.00")
    assert values[("不良贷款余额", 2024)] == 30 * million and values[("次级类贷款余额", 2023)] == 8 * million
    assert values[("不良贷款率", 2024)] == Decimal("3.00") and values[("不良贷款率", 2023)] == Decimal("2.00")
    assert values[("逾期90天以上贷款偏离度", 2024)] == Decimal("0.90")
    assert values[("逾期90天以上贷款拨备覆盖率", 2023)] == Decimal("280.00")
    assert values[("企业贷款不良率", 2024)] == Decimal("2.50") and values[("个人贷款不良率", 2023)] == Decimal("2.20")
    # Under 余额 a row's own amount; no 占比 or 不良率 of it is any field's.
    assert values[("企业贷款", 2024)] == 600 * million and values[("发放贷款和垫款本金总额", 2023)] == 960 * million
    assert Decimal("55.6") not in values.values() and Decimal("100.00") not in values.values()


def test_a_member_row_is_its_parents_figure_of_it():
    """「不良贷款率 / 其中：企业贷款 0.70% / 个人贷款 1.39%」: the 其中 rows are the 不良贷款率 of each kind of loan,
    never the loans' amounts; a 其中 row under an amount (吸收存款本金 / 其中：企业存款) is its own field."""
    rates = [["项目", "2024年12月31日", "2023年12月31日", "本年末比上年末增减"], ["不良贷款率", "1.06%", "1.06%", "-"],
             ["其中：企业贷款", "0.70%", "0.63%", "+0.07 个百分点"], ["个人贷款", "1.39%", "1.37%", "+0.02 个百分点"]]
    amounts = [["项目", "2024年12月31日", "2023年12月31日"], ["吸收存款本金", "3,500", "3,400"],
               ["其中：企业存款", "2,200", "2,100"], ["个人存款", "1,300", "1,300"]]
    tables = {22: [PageTable(22, rates, "lattice"), PageTable(22, amounts, "lattice")]}
    values = _values(extract_indicators(tables, {22: _page_text(rates, amounts)}, 2024))
    assert values[("企业贷款不良率", 2024)] == Decimal("0.70") and values[("个人贷款不良率", 2023)] == Decimal("1.37")
    assert ("企业贷款", 2024) not in values and ("个人贷款", 2024) not in values
    assert values[("企业存款", 2024)] == Decimal(2_200_000_000) and values[("个人存款", 2023)] == Decimal(1_300_000_000)
    # The text layer alone reads the same lines (two rows on one, as pdfium prints them) the same way.
    text = ("2.5.2 资产质量\n项目 2024 年 12 月 31 日 2023 年 12 月 31 日 本年末比上年末增减\n"
            "不良贷款率 1.06% 1.06% - 其中：企业贷款 0.70% 0.63% +0.07 个百分点\n个人贷款 1.39% 1.37% +0.02 个百分点")
    values = _values(extract_indicators({}, {22: text}, 2024))
    assert values == {("不良贷款率", 2024): Decimal("1.06"), ("不良贷款率", 2023): Decimal("1.06"),
                      ("企业贷款不良率", 2024): Decimal("0.70"), ("企业贷款不良率", 2023): Decimal("0.63"),
                      ("个人贷款不良率", 2024): Decimal("1.39"), ("个人贷款不良率", 2023): Decimal("1.37")}


@pytest.mark.parametrize("label", [
    "计入当期损益的政府补助，但与公司正常经营业务密切相关，符合国家政策规定、按照一定标准定额或定量持续享受的政府补助除外",
    "计入当期损益的政府补助（与公司正常经营业务密切相关、符合国家政策规定、按照确定的标准享有、对公司损益产生持续影响的政府补助除外）",
    "政府补助",
])
def test_government_grants_of_the_nonrecurring_table_by_the_head_of_their_label(label):
    rows = [["非经常性损益项目", "2019 年金额", "附注（如适用）", "2018 年金额"],
            ["越权审批，或无正式批准文件，或偶发性的税收返还、减免", "", "", ""], [label, "7,500.00", "", "14,800.00"],
            ["公允价值变动损益", "-7,556.00", "", "-13,192.00"], ["合计", "276.00", "", "2,139.00"]]
    values = _values(extract_indicators(_table(rows, 7), {7: "单位:元 币种:人民币"}, 2019))
    assert values == {("计入当期损益的政府补助", 2019): Decimal("7500.00"), ("计入当期损益的政府补助", 2018): Decimal("14800.00"),
                      ("非经常性损益合计", 2019): Decimal("276.00"), ("非经常性损益合计", 2018): Decimal("2139.00")}


def test_the_latest_share_capital_block_is_read_for_the_report_year_only():
    """截至披露前一交易日…: label and one figure, no header; other rows of that shape are not read."""
    rows = [["截至披露前一交易日的公司总股本（股）", "19,405,918,198"], ["支付的优先股股利（元）", "874,000,000"],
            ["用最新股本计算的全面摊薄每股收益（元/股）", "2.15"], ["营业收入", "146,695"]]
    values = _values(extract_indicators(_table(rows, 17), {17: "（货币单位：人民币百万元）"}, 2024))
    assert values == {("用最新股本计算的全面摊薄每股收益", 2024): Decimal("2.15")}
    text = "截至披露前一交易日的公司总股本及用最新股本计算的全面摊薄每股收益\n" + "\n".join(" ".join(r) for r in rows)
    assert _values(extract_indicators({}, {17: text}, 2024)) == values


def test_bank_asset_quality_pages_are_read_and_other_companies_have_none_of_it(ingested):
    store, reports = ingested
    ex, pages = reports["000001_2024.json"]
    assert any("五级分类" in ex.pages[p - 1] for p in pages)
    prov = store.provenance("000001", 2024, ["不良贷款余额", "关注类贷款占比", "逾期90天以上贷款偏离度"])
    assert {p["field"] for p in prov} == {"不良贷款余额", "关注类贷款占比", "逾期90天以上贷款偏离度"}
    assert all("五级分类" in ex.pages[p["page"] - 1] for p in prov)
    bank_only = [f.name for f in field_dictionary() if f.name.endswith(("贷款余额", "贷款占比", "贷款不良率"))]
    assert len(bank_only) >= 10
    for truth in ("603339_2019.json", "600201_2020.json"):
        ex, pages = reports[truth]
        assert not any("五级分类" in ex.pages[p - 1] for p in pages)
        data = load_truth(TRUTH / truth)
        row = store.row(data["company_code"], data["report_year"])
        assert [f for f in bank_only if row.get(f) is not None] == []
        assert row["计入当期损益的政府补助"] is not None  # every company prints its 非经常性损益 table
