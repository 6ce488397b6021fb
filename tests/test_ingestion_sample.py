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
