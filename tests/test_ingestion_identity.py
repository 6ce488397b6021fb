"""Company and year come from the report's own pages; the file name is a hint checked against them. A
report saved under another company's name fails with both identities named (or, trusting the content, is
stored as what it is); one company-year has one current report: a second with other bytes is a conflict,
or replaces the first with --force."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ingestion.batch import ingest_paths
from ingestion.filenames import ReportIdentity
from ingestion.identity import IdentityMismatch, contradicts, report_identity, report_year
from ingestion.pipeline import ingest_file
from knowledge.configuration import Settings
from knowledge.store import Store

JINYU_NAME = "2021-04-20__金宇生物技术股份有限公司__600201__生物股份__2020年__年度报告.pdf"
MINI_PAGES = [0, 1, 2, 3, 4, 58, 59, 60]  # cover, 公司简介, the consolidated balance sheet (四方科技)
JINYU_MINI_PAGES = [0, 1, 2, 3, 4, 65, 66, 67]


def cut(source: Path, pages: list[int], dest: Path) -> Path:
    """A real report reduced to some of its pages (0-based), so a test ingests in a second."""
    src, new = pdfium.PdfDocument(str(source)), pdfium.PdfDocument.new()
    new.import_pages(src, pages)
    dest.parent.mkdir(parents=True, exist_ok=True)
    new.save(str(dest))
    return dest


def other_bytes(source: Path, dest: Path) -> Path:
    """The same report with one byte more after %%EOF: readable, and a sha256 of its own."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(source.read_bytes() + b"\n")
    return dest


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, sample_pdf, second_pdf) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("identity-pdfs")
    mini = cut(sample_pdf, MINI_PAGES, d / "mini" / sample_pdf.name)
    return {
        "mini": mini,
        "jinyu": cut(second_pdf, JINYU_MINI_PAGES, d / "jinyu" / second_pdf.name),
        "disguised": other_bytes(sample_pdf, d / "disguised" / JINYU_NAME),  # the whole 156 pages
        "disguised_mini": other_bytes(mini, d / "disguised-mini" / JINYU_NAME),
        "resaved": other_bytes(mini, d / "resaved" / sample_pdf.name),
        "profile_only": cut(sample_pdf, [0, 1, 2, 3, 4], d / "profile" / sample_pdf.name),
        "misnamed": other_bytes(mini, d / "misnamed" / "report.pdf"),
        "anonymous": cut(sample_pdf, [58, 59, 60], d / "anonymous" / "report.pdf"),
    }


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'nianbao.sqlite'}")


def count(store: Store, table: str, **where) -> int:
    t = store.t[table]
    q = select(func.count()).select_from(t).where(*[t.c[k] == v for k, v in where.items()])
    with store.engine.connect() as c:
        return c.execute(q).scalar_one()


# The identity rules on page text alone --------------------------------------------------------------
COVER = "2019 年年度报告\n1 / 156\n公司代码：603339 公司简称：四方科技\n四方科技集团股份有限公司\n2019 年年度报告"


def test_pages_name_code_short_name_and_year():
    ident = report_identity("report.pdf", [COVER], [])
    assert (ident.code, ident.full_name, ident.short_name, ident.year) == ("603339", "四方科技集团股份有限公司", "四方科技", 2019)


def test_the_year_of_the_period_when_the_title_names_none():
    pages = ["四方科技集团股份有限公司", "释义\n报告期、本期 指 2019 年 1 月 1 日-2019 年 12 月 31 日"]
    assert report_year(pages) == 2019
    assert report_year(["2019 年半年度报告"]) is None


def test_a_scheme_name_the_pages_contradict_raises_naming_both():
    with pytest.raises(IdentityMismatch) as err:
        report_identity(JINYU_NAME, [COVER], [])
    assert "文件名为 600201 生物股份 2020，内容为 603339 四方科技 2019" in str(err.value)
    assert "--trust-content" in str(err.value)
    trusted = report_identity(JINYU_NAME, [COVER], [], trust_content=True)
    assert (trusted.code, trusted.short_name, trusted.year) == ("603339", "四方科技", 2019)


def test_names_are_compared_only_when_the_pages_name_no_code():
    named = ReportIdentity("600201", "金宇生物技术股份有限公司", "生物股份", 2020)
    assert contradicts(named, ReportIdentity(None, "四方科技集团股份有限公司", None, 2020))
    assert not contradicts(named, ReportIdentity(None, "金宇生物技术股份有限公司", None, None))
    assert not contradicts(named, ReportIdentity("600201", "金宇生物（集团）股份有限公司", None, 2020))  # renamed


def test_a_loose_name_only_fills_what_the_pages_leave_open():
    ident = report_identity("600201_2020_annual.pdf", [COVER], [])
    assert (ident.code, ident.year) == ("603339", 2019)
    no_year = report_identity("600201_2018.pdf", ["公司代码：603339"], [])
    assert (no_year.code, no_year.year) == ("603339", 2018)


# The attack: a report under another company's file name ------------------------------------------------
def test_a_report_under_another_companys_name_fails_and_writes_nothing(store, pdfs):
    assert ingest_file(store, pdfs["jinyu"]).status == "ok"
    jinyu_before = store.row("600201", 2020)
    result = ingest_file(store, pdfs["disguised"])
    assert result.status == "failed"
    assert "文件名为 600201 生物股份 2020，内容为 603339 四方科技 2019" in result.reason
    assert store.row("600201", 2020) == jinyu_before
    assert store.row("600201", 2020)["公司名称"] == "金宇生物技术股份有限公司"
    assert [r["file_name"] for r in store.reports_for("600201", 2020)] == [pdfs["jinyu"].name]
    assert store.company("603339") is None and count(store, "reports") == 1


def test_trusting_the_content_stores_it_as_what_it_is(store, pdfs):
    assert ingest_file(store, pdfs["jinyu"]).status == "ok"
    jinyu_before = store.row("600201", 2020)
    result = ingest_file(store, pdfs["disguised"], trust_content=True)
    assert (result.status, result.company_code, result.year) == ("ok", "603339", 2019), result.reason
    row = store.row("603339", 2019)
    assert (row["公司名称"], row["证券代码"], str(row["货币资金"])) == ("四方科技集团股份有限公司", "603339", "905402299.44")
    assert store.company("603339").full_name == "四方科技集团股份有限公司"
    assert store.row("600201", 2020) == jinyu_before
    assert len(store.reports_for("600201", 2020)) == 1 and len(store.reports_for("603339", 2019)) == 1


def test_a_misnamed_file_ingests_by_its_content(store, pdfs):
    result = ingest_file(store, pdfs["misnamed"])
    assert (result.status, result.company_code, result.year) == ("ok", "603339", 2019), result.reason
    assert store.company("603339").full_name == "四方科技集团股份有限公司"


def test_a_misnamed_file_its_pages_do_not_identify_fails_clearly(store, pdfs):
    result = ingest_file(store, pdfs["anonymous"])
    assert result.status == "failed"
    assert "cannot tell the company code" in result.reason
    assert "date__全称__代码__简称__年份__年度报告.pdf" in result.reason
    assert count(store, "reports") == 0


# One company-year, one current report -------------------------------------------------------------------
def test_a_second_report_of_a_company_year_is_a_conflict_naming_the_first(store, pdfs):
    first = ingest_file(store, pdfs["mini"])
    assert first.status == "ok"
    before = (count(store, "reports"), count(store, "provenance"), count(store, "chunks"))
    second = ingest_file(store, pdfs["resaved"])
    assert second.status == "failed"
    assert "603339 2019" in second.reason and pdfs["mini"].name in second.reason and "--force" in second.reason
    assert (count(store, "reports"), count(store, "provenance"), count(store, "chunks")) == before
    again = ingest_file(store, pdfs["mini"])  # the same bytes are still just skipped
    assert (again.status, again.reason) == ("skipped", "already ingested (same sha256)")


def test_force_replaces_the_stored_report_and_all_it_contributed(store, pdfs):
    first = ingest_file(store, pdfs["mini"])
    assert first.status == "ok" and "货币资金" in store.row("603339", 2019)
    [first_sha] = [r["sha256"] for r in store.reports()]
    result = ingest_file(store, pdfs["profile_only"], force=True)
    assert result.status == "ok", result.reason
    [report] = store.reports()
    assert report["id"] == result.report_id and report["file_name"] == pdfs["profile_only"].name
    assert store.report_by_sha256(first_sha) is None
    assert count(store, "chunks") == count(store, "chunks", report_id=result.report_id) == result.chunks
    assert {p["report_id"] for y in (2018, 2019) for p in store.provenance("603339", y)} <= {result.report_id}
    # The balance sheet was only in the first: its cells are gone, not left without provenance.
    for year in (2018, 2019):
        row = store.row("603339", year) or {}
        assert "货币资金" not in row
        assert set(row) <= {p["field"] for p in store.provenance("603339", year)}
    back = ingest_file(store, pdfs["mini"], force=True)
    assert back.status == "ok" and count(store, "reports") == 1
    assert str(store.row("603339", 2019)["货币资金"]) == "905402299.44"
    assert len(store.provenance("603339", 2019, ["货币资金"])) == 1


def test_one_batch_stores_one_report_per_company_year_even_with_force(tmp_path, pdfs):
    settings = Settings(home=tmp_path / "home")
    results = ingest_paths(settings, [pdfs["mini"], pdfs["resaved"]], force=True)
    assert [r.status for r in results] == ["ok", "failed"]
    assert "本批中已有另一份年报" in results[1].reason and pdfs["mini"].name in results[1].reason
    assert len(Store(settings.db_url).reports_for("603339", 2019)) == 1


# The CLI ------------------------------------------------------------------------------------------------


def test_cli_names_both_identities_and_trust_content_stores_by_content(cli, pdfs, tmp_path):
    runner = CliRunner()
    refused = runner.invoke(cli, ["ingest", str(pdfs["disguised_mini"])])
    assert refused.exit_code == 1, refused.output
    assert "文件名为 600201 生物股份 2020，内容为 603339 四方科技 2019" in refused.output
    trusted = runner.invoke(cli, ["ingest", "--trust-content", str(pdfs["disguised_mini"])])
    assert trusted.exit_code == 0, trusted.output
    assert "603339 2019" in trusted.output and "1 ok" in trusted.output
    store = Store(Settings(home=tmp_path / "home").db_url)
    assert [(r["company_code"], r["year"]) for r in store.reports()] == [("603339", 2019)]
