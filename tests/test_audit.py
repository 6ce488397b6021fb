"""The self-audit at ingestion: accounting identities checked on every report, both years.

The bundled reports must pass every identity they print the terms of; a report with one value altered is
flagged with the identity that broke, its fields and the difference — in the store (its audit and the
provenance of those fields), in ``nianbao show`` and in the batch summary — and is still ingested.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.audit import (
    FAILED,
    NOT_CHECKED,
    PASSED,
    Identity,
    Term,
    audit_statements,
    check_identity,
    deductions_negative,
    identity_book,
    last_digit_unit,
    load_identities,
)
from ingestion.statements import StatementResult
from knowledge.store import Store, Value

DATA = Path(__file__).resolve().parent / "data"
BANK_PDF = next((DATA / "reports").glob("*平安银行*2024*.pdf"))


def money(field: str, text: str, unit: str = "元") -> Value:
    """A value as the statement parser makes it: the printed text and its amount in yuan."""
    from ingestion.numbers import parse_number, to_yuan

    return Value(field, to_yuan(parse_number(text), unit), page=1, raw_label=field, raw_text=text)


def column(*values: Value) -> dict[str, Value]:
    return {v.field: v for v in values}


# The evaluator ---------------------------------------------------------------------------------------------

PROFIT = Identity("利润总额 = 营业利润 + 营业外收入 − 营业外支出", "income", "利润总额",
                  terms=(Term("营业利润", 1),), items=(Term("营业外收入", 1), Term("营业外支出", -1)))


def test_an_identity_holds_within_the_rounding_of_its_printed_digits():
    values = column(money("利润总额", "145,623,928.45"), money("营业利润", "145,246,431.89"),
                    money("营业外收入", "457,646.14"), money("营业外支出", "80,149.58"))
    check = check_identity(PROFIT, values, "元")
    assert check.status == PASSED
    assert check.difference == 0 and check.tolerance == Decimal("0.04")  # 4 values to the fen
    off_by_a_fen = column(*values.values(), money("利润总额", "145,623,928.46"))
    assert check_identity(PROFIT, off_by_a_fen, "元").status == PASSED
    off_by_a_yuan = column(*values.values(), money("利润总额", "145,623,929.45"))
    failed = check_identity(PROFIT, off_by_a_yuan, "元")
    assert failed.status == FAILED
    assert failed.difference == Decimal("1.00")
    assert failed.fields == ("利润总额", "营业利润", "营业外收入", "营业外支出")


def test_the_tolerance_is_the_printed_unit():
    # 百万元: each figure is rounded to a million yuan, so sums may be off by a million per figure.
    values = column(money("利润总额", "54,739", "百万元"), money("营业利润", "55,206", "百万元"),
                    money("营业外收入", "37", "百万元"), money("营业外支出", "505", "百万元"))
    check = check_identity(PROFIT, values, "百万元")
    assert check.status == PASSED and check.difference == Decimal(1_000_000)
    assert check.tolerance == Decimal(4_000_000)
    values["利润总额"] = money("利润总额", "54,750", "百万元")
    assert check_identity(PROFIT, values, "百万元").status == FAILED
    assert last_digit_unit(money("货币资金", "905,402,299.44"), "元") == Decimal("0.01")
    assert last_digit_unit(money("贵金属", "(12,620)", "百万元"), "百万元") == Decimal(1_000_000)


def test_a_missing_term_means_not_checked_and_a_missing_item_counts_zero():
    values = column(money("利润总额", "145,166,282.31"), money("营业利润", "145,246,431.89"),
                    money("营业外支出", "80,149.58"))
    assert check_identity(PROFIT, values, "元").status == PASSED  # no 营业外收入 printed: 0
    del values["营业利润"]
    check = check_identity(PROFIT, values, "元")
    assert check.status == NOT_CHECKED and check.fields == ("营业利润",)


def test_deductions_printed_negative_are_added_as_printed():
    # 平安银行 prints costs in parentheses: 净利润 = 利润总额 − 所得税费用 reads 54,738 + (10,230).
    bank = column(money("净利润", "44,508", "百万元"), money("利润总额", "54,738", "百万元"),
                  money("所得税费用", "(10,230)", "百万元"), money("营业支出", "(42,061)", "百万元"),
                  money("税金及附加", "(1,479)", "百万元"))
    net = Identity("净利润 = 利润总额 − 所得税费用", "income", "净利润", terms=(Term("利润总额", 1),),
                   items=(Term("所得税费用", -1),))
    deductions = identity_book().deductions["income"]
    assert deductions_negative(bank, deductions)
    assert check_identity(net, bank, "百万元", negative_deductions=True).status == PASSED
    assert check_identity(net, bank, "百万元", negative_deductions=False).status == FAILED
    company = column(money("净利润", "129,465,020.68"), money("利润总额", "145,623,928.45"),
                     money("所得税费用", "16,158,907.77"), money("税金及附加", "5,180,657.76"),
                     money("财务费用", "-12,024,894.14"))  # a negative 财务费用 is income, not a sign convention
    assert not deductions_negative(company, deductions)
    assert check_identity(net, company, "元").status == PASSED


def test_an_either_group_may_stand_inside_another_line():
    # Since 2018 应付利息 and 应付股利 are printed as "其中" lines of 其他应付款; before, beside it.
    ident = next(i for i in identity_book().identities if i.total == "流动负债合计")
    inside = column(money("流动负债合计", "300.00"), money("其他应付款", "100.00"), money("应付利息", "20.00"),
                    money("应付股利", "10.00"), money("应付账款", "200.00"))
    assert check_identity(ident, inside, "元").status == PASSED
    beside = column(*inside.values(), money("流动负债合计", "330.00"))
    assert check_identity(ident, beside, "元").status == PASSED
    neither = column(*inside.values(), money("流动负债合计", "315.00"))
    check = check_identity(ident, neither, "元")
    assert check.status == FAILED and abs(check.difference) == Decimal("15.00")  # the nearest reading is shown


def test_another_layouts_identity_does_not_apply():
    unsplit = next(i for i in identity_book().identities if i.total == "资产总计" and i.unless)
    company = column(money("资产总计", "300.00"), money("流动资产合计", "100.00"), money("货币资金", "1.00"))
    assert check_identity(unsplit, company, "元") is None


def test_identities_name_only_fields_of_their_statement(tmp_path):
    book = identity_book()
    assert len(book.identities) >= 30
    # The dictionary's sum_of totals are identities too.
    assert any(i.total == "资产总计" and [t.field for t in i.terms] == ["流动资产合计", "非流动资产合计"]
               for i in book.identities)
    bad = tmp_path / "identities.toml"
    bad.write_text('[[identity]]\nstatement = "income"\ntotal = "利润总额"\nterms = ["营业利润", "货币资金"]\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match="货币资金"):
        load_identities(bad)
    bad.write_text('[[identity]]\nstatement = "income"\ntotal = "利润总额"\nterms = ["营业利润X"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="营业利润X"):
        load_identities(bad)


def test_every_column_is_audited():
    res = StatementResult("income", "元",
                          current=[money("利润总额", "10.00"), money("营业利润", "10.00")],
                          prior=[money("利润总额", "9.00"), money("营业利润", "8.00")],
                          restated=[money("利润总额", "8.00"), money("营业利润", "8.00")])
    audit = audit_statements({"income": res})
    by_column = {c.column: c.status for c in audit.checks if c.total is not None and c.fields[0] == "利润总额"}
    assert by_column == {"current": PASSED, "prior": FAILED, "restated": PASSED}
    assert not audit.passed_all and [c.column for c in audit.failed] == ["prior"]


# The bundled reports ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank_extraction():
    """平安银行 2024 (statements in 百万元, a bank's layout), extracted once for this module."""
    from ingestion.extract import extract_report

    return extract_report(BANK_PDF)


@pytest.mark.parametrize(("code", "year"), [("603339", 2019), ("600201", 2020)])
def test_bundled_company_reports_pass_every_identity(reports_home, code, year):
    store = Store(f"sqlite:///{reports_home / 'nianbao.sqlite'}")
    for audited_year, column in ((year, "current"), (year - 1, "prior")):
        rows = [r for r in store.audit(code, audited_year) if r["column_name"] == column]
        checked = [r for r in rows if r["status"] != NOT_CHECKED]
        failed = [f"{r['identity']}: {r['difference']}" for r in checked if r["status"] == FAILED]
        assert not failed, failed
        assert len(checked) >= 20, len(checked)
        names = {r["identity"] for r in checked}
        for must in ("负债和所有者权益总计 = 负债合计 + 所有者权益合计", "流动资产合计 = 各流动资产项目之和",
                     "利润总额 = 营业利润 + 营业外收入 − 营业外支出", "净利润 = 利润总额 − 所得税费用",
                     "期末现金及现金等价物余额 = 期初现金及现金等价物余额 + 现金及现金等价物净增加额"):
            assert must in names, must


def test_the_bank_report_passes_every_identity_of_its_layout(bank_extraction):
    audit = bank_extraction.audit
    assert audit is not None and audit.passed_all, [c.line() for c in audit.failed]
    checked = {(c.identity, c.column) for c in audit.checked}
    for column in ("current", "prior"):
        for name in ("资产总计 = 各资产项目之和（不分流动/非流动）", "负债合计 = 各负债项目之和（不分流动/非流动）",
                     "利息净收入 = 利息收入 − 利息支出", "营业利润 = 营业收入 − 营业支出 − 减值损失（银行）",
                     "经营活动产生的现金流量净额 = 经营活动现金流入小计 − 经营活动现金流出小计",
                     "现金及现金等价物净增加额 = 经营活动产生的现金流量净额 + 投资活动产生的现金流量净额 + "
                     "筹资活动产生的现金流量净额 + 汇率变动对现金及现金等价物的影响"):
            assert (name, column) in checked, (name, column)
    assert not any(c.identity.startswith("流动资产合计") for c in audit.checked)  # no 流动/非流动 split


# One value altered -----------------------------------------------------------------------------------------


def altered(extraction, field: str, delta: Decimal):
    """A copy of ``extraction`` whose current-year ``field`` is off by ``delta`` (in yuan), audit not yet run."""
    ex = copy.deepcopy(extraction)
    ex.audit = None
    for values in (ex.current, *[s.current for s in ex.statements.values()]):
        for i, v in enumerate(values):
            if v.field == field:
                values[i] = dataclasses.replace(v, value=v.value + delta)
    return ex


def test_one_altered_value_is_flagged_with_the_identity_it_breaks(bank_extraction):
    ex = altered(bank_extraction, "贵金属", Decimal(100_000_000))  # 12,620 → 12,720 百万元
    audit = audit_statements(ex.statements)
    assets = "资产总计 = 各资产项目之和（不分流动/非流动）"
    assert [(c.identity, c.column) for c in audit.failed] == [(assets, "current")]
    broken = audit.failed[0]
    assert "贵金属" in broken.fields and broken.fields[0] == "资产总计"
    assert broken.difference == Decimal(-100_000_000)
    assert "资产总计" in broken.line(2024) and "-100,000,000" in broken.line(2024)


def test_a_flagged_report_is_stored_flagged_and_shown(bank_extraction, settings):
    from typer.testing import CliRunner

    from agent.cli import app
    from ingestion.pipeline import commit_extraction
    from ingestion.progress import BatchProgress

    settings.ensure_home()
    store = Store(settings.db_url)
    result = commit_extraction(store, altered(bank_extraction, "贵金属", Decimal(100_000_000)))
    assert result.ok  # flagged, not blocked
    assert result.audit_passed is False and len(result.identities_failed) == 1
    assert "资产总计" in result.line() and "FAILED" in result.line()

    rows = store.audit("000001", 2024)
    failed = [r for r in rows if r["status"] == FAILED]
    assert [r["column_name"] for r in failed] == ["current"] and "贵金属" in failed[0]["fields"]
    assert Decimal(failed[0]["difference"]) == Decimal(-100_000_000)
    assert all(r["status"] != FAILED for r in store.audit("000001", 2023))
    flags = {p["field"]: p["audit"] for p in store.provenance("000001", 2024)}
    assert "资产总计" in (flags["贵金属"] or "") and "资产总计" in (flags["现金及存放中央银行款项"] or "")
    assert flags["净利润"] is None
    assert all(p["audit"] is None for p in store.provenance("000001", 2023))

    runner = CliRunner()
    shown = runner.invoke(app, ["show", "000001", "2024"])
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if x.startswith("✗"))
    assert "资产总计" in line and "贵金属" in line and "-100,000,000" in line
    as_json = json.loads(runner.invoke(app, ["show", "000001", "2024", "--json"]).stdout)
    assert as_json["values"]["贵金属"]["audit"]
    assert [r["identity"] for r in as_json["audit"] if r["status"] == FAILED] == [failed[0]["identity"]]

    # The batch summary: the share of reports passing every identity.
    progress = BatchProgress(2, "processes", 1)
    progress.add(result)
    progress.add(dataclasses.replace(result, identities_failed=[]))
    summary = progress.summary()["audit"]
    assert summary["reports_audited"] == 2 and summary["share_passing"] == 0.5
    assert summary["failing"][0]["identities"] == result.identities_failed
    assert "1/2 reports (50%) pass every accounting identity" in progress.closing_line()


def test_replacing_a_report_replaces_its_audit(bank_extraction, settings):
    from ingestion.pipeline import commit_extraction

    settings.ensure_home()
    store = Store(settings.db_url)
    assert commit_extraction(store, altered(bank_extraction, "贵金属", Decimal(100_000_000))).ok
    again = commit_extraction(store, bank_extraction, force=True)
    assert again.ok and again.audit_passed
    assert not [r for r in store.audit("000001", 2024) if r["status"] == FAILED]
    assert all(p["audit"] is None for p in store.provenance("000001", 2024))


def test_a_database_from_before_the_audit_gains_its_columns(settings):
    from sqlalchemy import text

    settings.ensure_home()
    Store(settings.db_url).engine.dispose()
    store = Store(settings.db_url)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE provenance DROP COLUMN audit"))
        conn.execute(text("DROP TABLE report_audit"))
    store.engine.dispose()
    reopened = Store(settings.db_url)
    from sqlalchemy import inspect

    assert "audit" in {c["name"] for c in inspect(reopened.engine).get_columns("provenance")}
    assert "report_audit" in inspect(reopened.engine).get_table_names()


def test_the_audit_in_postgresql(bank_extraction, postgres_cluster, tmp_path):
    import psycopg

    from ingestion.pipeline import commit_extraction

    with psycopg.connect(postgres_cluster, autocommit=True) as conn:
        conn.execute("CREATE DATABASE nianbao_audit")
    url = postgres_cluster.replace("postgresql://", "postgresql+psycopg://").replace("/postgres?", "/nianbao_audit?")
    store = Store(url)
    assert commit_extraction(store, altered(bank_extraction, "贵金属", Decimal(100_000_000))).ok
    failed = [r for r in store.audit("000001", 2024) if r["status"] == FAILED]
    assert len(failed) == 1 and Decimal(failed[0]["difference"]) == Decimal(-100_000_000)
    assert {p["field"]: p["audit"] for p in store.provenance("000001", 2024)}["贵金属"]
    assert commit_extraction(store, bank_extraction, force=True).audit_passed
    assert not [r for r in store.audit("000001", 2024) if r["status"] == FAILED]
    store.engine.dispose()
