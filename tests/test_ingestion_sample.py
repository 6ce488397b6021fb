"""The real reports end to end: values, provenance, accuracy against the hand-made truth lists, chunks,
the sha256 manifest (a second run skips) and --force (re-ingests without duplicating anything)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingestion.accuracy import load_truth, score
from ingestion.batch import ingest_paths
from ingestion.pipeline import ingest_file
from knowledge.configuration import Settings
from knowledge.store import Store

TRUTH = Path(__file__).parent / "data" / "truth"


@pytest.fixture(scope="session")
def ingested(tmp_path_factory, sample_pdf, second_pdf):
    """Both reports ingested once, through the process pool."""
    settings = Settings(home=tmp_path_factory.mktemp("ingested-home"))
    results = ingest_paths(settings, [sample_pdf, second_pdf], workers=2)
    return settings, Store(settings.db_url), results


def count(store: Store, table: str) -> int:
    with store.engine.connect() as c:
        return c.execute(select(func.count()).select_from(store.t[table])).scalar_one()


def test_both_reports_ok(ingested):
    _, store, results = ingested
    assert [r.status for r in results] == ["ok", "ok"], [r.reason for r in results]
    assert {(r["company_code"], r["year"], r["pages"]) for r in store.reports()} == {("603339", 2019, 156), ("600201", 2020, 195)}
    assert all(len(r["sha256"]) == 64 and r["status"] == "ok" for r in store.reports())


def test_cash_current_and_prior_year_with_provenance(ingested):
    _, store, _ = ingested
    assert store.row("603339", 2019)["货币资金"] == Decimal("905402299.44")
    assert store.row("603339", 2018)["货币资金"] == Decimal("627041535.44")
    prov = store.provenance("603339", 2019, ["货币资金"])
    assert [(p["source"], p["page"], p["raw_label"], p["raw_text"]) for p in prov] == [
        ("report", 59, "货币资金", "905,402,299.44")]
    prior = store.provenance("603339", 2018, ["货币资金"])
    assert [(p["source"], p["page"], p["raw_text"]) for p in prior] == [("report_prior_year", 59, "627,041,535.44")]
    assert "四方科技" in prior[0]["file_name"]


def test_every_value_has_provenance(ingested):
    _, store, _ = ingested
    for code, year in (("603339", 2019), ("603339", 2018), ("600201", 2020), ("600201", 2019)):
        row = store.row(code, year)
        prov = {p["field"] for p in store.provenance(code, year)}
        assert set(row) <= prov
        assert all(p["page"] and p["raw_label"] and p["raw_text"] for p in store.provenance(code, year))


@pytest.mark.parametrize("truth", ["603339_2019.json", "600201_2020.json"])
def test_field_accuracy_against_truth_list(ingested, truth):
    _, store, _ = ingested
    data = load_truth(TRUTH / truth)
    assert len(data["values"]) >= 150
    acc = score(store, data)
    assert acc.rate >= 0.99, "\n".join(acc.lines())


def test_company_registry_from_file_name_and_profile_page(ingested):
    _, store, _ = ingested
    c = store.company("600201")
    assert (c.full_name, c.short_name) == ("金宇生物技术股份有限公司", "生物股份")
    assert store.row("600201", 2020)["法定代表人"] == "张翀宇"


def test_consolidated_not_parent_figures(ingested):
    _, store, _ = ingested
    # The 母公司 balance sheet follows on the same page with 货币资金 122,775,584.93.
    assert store.row("603339", 2019)["资产总计"] == Decimal("2464948703.85")
    assert all(p["value"] != "122775584.93" for p in store.provenance("603339", 2019, ["货币资金"]))


def test_chunks_with_metadata(ingested):
    _, store, _ = ingested
    chunks = store.chunks("603339", 2019)
    assert len(chunks) > 100
    assert all(c["report_id"] and c["page"] and c["text"].strip() for c in chunks)
    assert max(len(c["text"]) for c in chunks) <= 600
    staff = [c for c in chunks if "在职员工的数量合计" in c["text"]]
    assert staff and staff[0]["page"] == 52 and "员工情况" in staff[0]["section"]


def test_second_run_skips_everything(ingested):
    settings, store, _ = ingested
    before = (count(store, "provenance"), count(store, "chunks"), count(store, "reports"))
    again = ingest_paths(settings, [p for p in (ingested[2][0].path, ingested[2][1].path)], workers=2)
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert (count(store, "provenance"), count(store, "chunks"), count(store, "reports")) == before


def test_force_reingests_without_duplicates(ingested, sample_pdf):
    _, store, _ = ingested
    before = (count(store, "provenance"), count(store, "chunks"), count(store, "reports"))
    result = ingest_file(store, sample_pdf, force=True)
    assert result.status == "ok"
    assert (count(store, "provenance"), count(store, "chunks"), count(store, "reports")) == before
    assert store.row("603339", 2019)["货币资金"] == Decimal("905402299.44")
    assert len(store.provenance("603339", 2019, ["货币资金"])) == 1


def test_statements_from_text_layer_when_camelot_finds_nothing(tmp_path, sample_pdf, monkeypatch):
    import ingestion.extract

    monkeypatch.setattr(ingestion.extract, "extract_tables", lambda path, pages: {})
    monkeypatch.setattr(ingestion.extract, "positioned_tables", lambda path, pages: ({}, {}))
    store = Store(f"sqlite:///{tmp_path}/text-only.sqlite")
    assert ingest_file(store, sample_pdf).status == "ok"
    assert store.row("603339", 2019)["货币资金"] == Decimal("905402299.44")
    assert store.row("603339", 2018)["货币资金"] == Decimal("627041535.44")
    assert store.row("603339", 2019)["职工总数"] == 1406
    acc = score(store, load_truth(TRUTH / "603339_2019.json"))
    assert acc.rate >= 0.85, "\n".join(acc.lines())
    wrong = [m for m in acc.misses if not m.endswith("got None")]
    assert wrong == []


@pytest.mark.parametrize("truth", ["603339_2019.json", "600201_2020.json"])
def test_no_values_beyond_the_truth_list(ingested, truth):
    """Precision: every cell the two reports fill is on the truth list, apart from the derived place."""
    _, store, _ = ingested
    data = load_truth(TRUTH / truth)
    listed = {(v["field"], v["year"]) for v in data["values"]}
    year = data["report_year"]
    extra = [(f, y) for y in (year - 1, year) for f in (store.row(data["company_code"], y) or {})
             if (f, y) not in listed and f not in ("省份", "城市")]
    assert extra == []


# --- basic facts printed outside 公司简介 (ingestion.basic_info.extract_report_facts) ----------------------

BANK_PDF = next((Path(__file__).parent / "data" / "reports").glob("*平安银行*2024*.pdf"))


def _facts(pdf, year=None) -> dict[str, str]:
    from ingestion.basic_info import extract_report_facts
    from ingestion.pdf_text import read_pdf_text

    return {v.field: v.value for v in extract_report_facts(read_pdf_text(pdf).pages, year)}


def test_officers_and_holder_counts_of_the_real_reports(sample_pdf, second_pdf):
    # 四方科技: 「黄杰 董事长、总经理 男 72」, 「黄华 董事、财务总监」 (p.48); 股东总数 p.43
    assert _facts(sample_pdf, 2019) == {"董事长": "黄杰", "总经理": "黄杰", "财务负责人": "黄华",
                                        "普通股股东总数": 20200, "披露日前上一月末普通股股东总数": 18954}
    # 生物股份: 总裁 wrapped 「董事、总 / 裁」; 尹松涛 (董事、副总裁、财务总监) left on 2020-06-23, 孙华丰 is in office
    bio = _facts(second_pdf, 2020)
    assert (bio["董事长"], bio["总经理"], bio["财务负责人"], bio["普通股股东总数"]) == ("张翀宇", "张竞", "孙华丰", 40654)
    # without the year the two 财务总监 rows conflict: nothing rather than a guess
    assert "财务负责人" not in _facts(second_pdf)


def test_bank_officers_from_the_declaration_and_the_table():
    # p.2 「本行董事长谢永林、行长冀光恒、副行长兼首席财务官项有志…声明」; p.66 the same in the table; p.104 股东总数
    facts = _facts(BANK_PDF, 2024)
    assert (facts["董事长"], facts["总经理"], facts["财务负责人"]) == ("谢永林", "冀光恒", "项有志")
    assert facts["普通股股东总数"] == 486258 and facts["披露日前上一月末普通股股东总数"] == 479969


@pytest.mark.parametrize("row, expected", [
    ("王五 董事长 男 56 2019 年 5 月 21 日 2022 年 5 月 20 日", {"董事长": "王五"}),
    ("王五 副董事长 男 56", {}),
    ("王五 董事、副 总裁 男 50", {}),  # a wrapped 副总裁 is no 总裁
    ("王五 董事、副行长 首席财务官 现任 男 60", {"财务负责人": "王五"}),
    ("王五 董事长 离任 男 60", {}),
    ("王五 董事长 男 60 2017 年 5 月 21 日 2020 年 6 月 23 日", {}),  # 任期 ended within the year
    ("合计 / / / 董事长 男 60", {}),
])
def test_officer_rows(row, expected):
    from ingestion.basic_info import extract_report_facts

    assert {v.field: v.value for v in extract_report_facts(["姓名 职务 性别 年龄\n" + row], 2020)} == expected


def test_signing_accountants_are_a_list_of_names():
    from ingestion.basic_info import extract_basic
    from ingestion.tables import PageTable

    rows = [["公司聘请的会计师事务所（境\n内）", "名称", "致同会计师事务所（特殊普通合伙）"],
            ["", "办公地址", "深圳市福田区福华路北深圳国际交易广场"],
            ["", "签字会计师姓名", "中国注册会计师：陈志芳 中国注册会计师：\n李瑶"]]
    values = {v.field: v.value for v in extract_basic({5: [PageTable(page=5, rows=rows, flavor="lattice")]}, {5: ""})}
    assert values["签字会计师"] == "陈志芳、李瑶" and values["会计师事务所"] == "致同会计师事务所（特殊普通合伙）"
    assert "办公地址" not in values  # the auditor's address is not the company's


@pytest.mark.parametrize("declaration, expected", [
    ("2、本行董事长谢永林、行长冀光恒、副行长兼首席财务官项有志、会计机构负责人郁辰声明：保证年度报告中财务报告的真实。",
     {"董事长": "谢永林", "总经理": "冀光恒", "财务负责人": "项有志"}),
    ("公司董事长兼总经理张三及会计机构负责人李四声明：保证年度报告中财务报告的真实。", {"董事长": "张三", "总经理": "张三"}),
    # 公司负责人 and 主管会计工作负责人 are no titles of these fields
    ("四、公司负责人黄杰、主管会计工作负责人黄华及会计机构负责人（会计主管人员）黄华声明：保证年度报告中财务报告的真实。", {}),
])
def test_officers_of_the_declaration(declaration, expected):
    from ingestion.basic_info import extract_report_facts

    assert {v.field: v.value for v in extract_report_facts([declaration])} == expected
