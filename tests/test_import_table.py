from decimal import Decimal

from community_fixture import SAMPLE_DIR, community  # noqa: F401
from python_calamine import CalamineWorkbook

from ingestion.import_table import import_tables
from knowledge.store import Company, Store, Value


def _sheet(name):
    wb = CalamineWorkbook.from_path(str(SAMPLE_DIR / name))
    rows = wb.get_sheet_by_name(wb.sheet_names[0]).to_python()
    return rows[0], rows[1:]


def test_every_company_year_is_imported(community):
    store, _settings, report = community
    header, rows = _sheet("company_annual_reports.xlsx")
    keys = {(str(r[2]).zfill(6), int(str(r[4])[:4])) for r in rows}
    assert report.company_years == len(keys)
    assert report.unmapped_columns == {}
    codes = {c.code for c in store.companies()}
    assert {k[0] for k in keys} == codes
    some_code, some_year = sorted(keys)[0]
    assert some_year in store.years(some_code)


def test_values_match_the_workbook_and_minus_one_is_missing(community):
    store, _settings, _report = community
    header, rows = _sheet("profit_statement.xlsx")
    col = header.index("营业收入")
    checked = missing = 0
    for r in rows:
        code, year, cell = str(r[2]).zfill(6), int(r[0]), r[col]
        have = (store.row(code, year) or {}).get("营业收入")
        if str(cell) in ("-1.0", "-1", ""):
            assert have is None
            missing += 1
        else:
            assert have == Decimal(repr(cell)) if isinstance(cell, float) else Decimal(str(cell))
            checked += 1
    assert checked > 50


def test_people_and_baseinfo_columns_land_on_canonical_fields(community):
    store, _settings, _report = community
    header, rows = _sheet("people.xlsx")
    r = next(r for r in rows if str(r[header.index("职工人数")]) not in ("-1.0", "-1"))
    row = store.row(str(r[2]).zfill(6), int(r[0]))
    assert row["职工总数"] == int(float(r[header.index("职工人数")]))
    header, rows = _sheet("baseinfo.xlsx")
    r = next(r for r in rows if "@" in str(r[header.index("公司邮箱")]))
    assert store.row(str(r[2]).zfill(6), int(r[0]))["电子信箱"] == r[header.index("公司邮箱")]


def test_report_values_beat_imports_unless_overwrite(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    store.upsert_company(Company("600201", "金宇生物技术股份有限公司", "生物股份"))
    with store.transaction() as conn:
        store.record_values(conn, "600201", 2020, [Value("营业收入", Decimal("1.00"), page=9)], source="report")
    csv = tmp_path / "t.csv"
    csv.write_text("代码,年度,营收,净利润,奇怪的列\n600201,2020,2.00,-1.0,x\n", encoding="utf-8")
    column_map = {"代码": "company_code", "年度": "year", "营收": "营业收入"}
    rep = import_tables(store, [csv], column_map=column_map)
    assert rep.unmapped_columns == {"t.csv": ["奇怪的列"]}
    assert store.row("600201", 2020)["营业收入"] == Decimal("1.00")
    assert "净利润" not in store.row("600201", 2020)  # -1.0 means missing
    assert [p["source"] for p in store.provenance("600201", 2020, ["营业收入"])] == ["report", "import"]
    import_tables(store, [csv], column_map=column_map, overwrite=True)
    assert store.row("600201", 2020)["营业收入"] == Decimal("2.00")


def test_reimport_is_idempotent_for_cells(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'y.sqlite'}")
    files = sorted(SAMPLE_DIR.glob("*.xlsx"))
    first = import_tables(store, files)
    before = store.row(*sorted((c.code, y) for c in store.companies() for y in store.years(c.code))[0])
    second = import_tables(store, files)
    after = store.row(*sorted((c.code, y) for c in store.companies() for y in store.years(c.code))[0])
    assert first.company_years == second.company_years and before == after


def test_a_total_missing_from_the_table_is_derived_from_its_parts(community):
    store, _settings, _report = community
    wide = store.t["company_year"]
    from sqlalchemy import select

    with store.engine.connect() as c:
        code, year = c.execute(
            select(wide.c.company_code, wide.c.year)
            .where(wide.c["流动负债合计"].is_not(None), wide.c["非流动负债合计"].is_not(None))
            .limit(1)
        ).one()
    row = store.row(code, year)
    assert row["负债合计"] == row["流动负债合计"] + row["非流动负债合计"]
    derived = [p for p in store.provenance(code, year, ["负债合计"])]
    assert derived and derived[0]["note"].startswith("derived")
