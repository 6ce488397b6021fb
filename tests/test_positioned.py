"""Statements read from the text layer's positions (ingestion.positioned): the same values camelot's tables
give on the real reports, settled only when their identities hold, and camelot reading a statement it cannot
settle."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import ingestion.extract
from ingestion.extract import _until_last, extract_report, read_statements_positioned
from ingestion.locate import locate, statement_unit
from ingestion.pdf_text import read_pdf_text
from ingestion.positioned import Run, _cells, _header, positioned_tables
from ingestion.sections import find_sections
from ingestion.statements import parse_statement
from ingestion.tables import extract_tables

DATA = Path(__file__).parent / "data"
BANK_PDF = next((DATA / "reports").glob("*平安银行*2024*.pdf"))


def run(text: str, left: float, right: float, bottom: float = 100.0, top: float = 108.0) -> Run:
    return Run(text, left, right, bottom, top)


def test_a_figure_cut_into_characters_is_one_cell():
    # 平安银行 positions every character: "268" "," "973" are one figure.
    cells = _cells([run("现金", 69, 90), run("268", 393, 409), run(",", 410.3, 411.3, 104, 106.4), run("973", 412.6, 428)])
    assert [c.text for c in cells] == ["现金", "268,973"]


def test_figures_of_adjacent_columns_stay_apart():
    # Close enough to join as text, but "1,2345,678" is no figure: two columns.
    cells = _cells([run("1,234", 300, 320), run("5,678", 323, 343)])
    assert [c.text for c in cells] == ["1,234", "5,678"]


def test_runs_of_one_label_are_one_cell():
    cells = _cells([run("2019", 268, 288), run("年", 291.5, 301), run("12", 305, 314), run("月", 318, 326)])
    assert [c.text for c in cells] == ["2019年12月"]


def test_a_header_without_label_column_gets_one_at_the_margin():
    columns, texts = _header([run("附注四", 296, 323), run("2024年12月31日", 356, 428),
                              run("2023年12月31日", 454, 526)], left_margin=68.5)
    assert texts[0] == "项目" and columns.label_col == 0 and columns.centres[0] == 68.5
    assert columns.nearest(400, exclude=0) == 2


def _statements(pdf: Path):
    text = read_pdf_text(pdf)
    where = locate(text.pages, find_sections(text.pages))
    read = {kind: _until_last(kind, pages, text) for kind, pages in where.statements.items()}
    return text, where, read


@pytest.mark.parametrize("which", ["sample", "second", "bank"])
def test_positioned_statements_equal_camelots_and_settle(which, sample_pdf, second_pdf):
    pdf = {"sample": sample_pdf, "second": second_pdf, "bank": BANK_PDF}[which]
    text, where, read = _statements(pdf)
    positioned = read_statements_positioned(pdf, read, where.boundaries, text)
    assert positioned.settled == set(read), positioned.why_not
    tables = extract_tables(pdf, sorted({p for ps in read.values() for p in ps}))
    for kind, pages in read.items():
        camelot = parse_statement(kind, [t for p in pages for t in tables.get(p, [])],
                                  statement_unit(kind, text.page(pages[0])), boundaries=where.boundaries.get(kind, set()))
        mine = positioned.results[kind]
        for column in ("current", "prior"):
            theirs = {v.field: v.value for v in getattr(camelot, column)}
            ours = {v.field: v.value for v in getattr(mine, column)}
            # Every figure camelot reads, the positioned reader reads the same; it may read more (camelot's
            # stream pass misses some of the bank's rows), never a different one.
            assert {f: (v, ours.get(f)) for f, v in theirs.items() if ours.get(f) != v} == {}, (kind, column)


def test_a_statement_that_does_not_balance_is_read_by_camelot(sample_pdf, monkeypatch):
    """Drop the 货币资金 row from the positioned pages: 流动资产合计 no longer equals its items, the balance sheet
    is not settled, and camelot's reading gives the value."""
    real = positioned_tables

    def without_cash(path, pages):
        by_page, uncertain = real(path, pages)
        for tables in by_page.values():
            for t in tables:
                t.rows = [r for r in t.rows if not r or "货币资金" not in r[0]]
        return by_page, uncertain

    monkeypatch.setattr(ingestion.extract, "positioned_tables", without_cash)
    ex = extract_report(sample_pdf)
    assert ex.timings["camelot_statements"] == 1.0
    assert {v.field: v.value for v in ex.current}["货币资金"] == Decimal("905402299.44")
    assert ex.audit.passed_all


def test_uncertain_rows_send_the_statement_to_camelot(sample_pdf, monkeypatch):
    real = positioned_tables

    def doubtful(path, pages):
        by_page, _ = real(path, pages)
        return by_page, {p: ["two figures nearest column 2"] for p in by_page}

    monkeypatch.setattr(ingestion.extract, "positioned_tables", doubtful)
    text, where, read = _statements(sample_pdf)
    positioned = read_statements_positioned(sample_pdf, read, where.boundaries, text)
    assert positioned.settled == set() and all("two figures" in why for why in positioned.why_not.values())
