"""研发投入 table: 研发投入合计 and its parts, shares of revenue and capitalisation, 研发人员数量."""

from __future__ import annotations

from ingestion.keyvalue import TextReading, collect, collect_text, resolver_for, text_reading
from ingestion.numbers import find_unit
from ingestion.tables import PageTable
from knowledge.store import Value

_ANCHORS = ("研发投入情况表", "研发投入")


def _unit_near_table(text: str) -> str:
    # The table's own "单位：元" line follows its heading; other units on the page belong to other tables.
    for anchor in _ANCHORS:
        at = text.find(anchor)
        if at >= 0:
            return find_unit(text[at:at + 400], find_unit(text))
    return find_unit(text)


def extract_rd(tables: dict[int, list[PageTable]], page_texts: dict[int, str]) -> list[Value]:
    return collect(tables, page_texts, resolver_for(("rd",)), lambda page: _unit_near_table(page_texts.get(page, ""))).list()


def read_rd_text(page_texts: dict[int, str]) -> TextReading:
    """The table from the page text alone, with the doubts that send it to camelot
    (:func:`ingestion.keyvalue.text_reading`): 研发投入合计 must be read and equal 费用化 + 资本化."""
    def unit_of_page(page: int) -> str:
        return _unit_near_table(page_texts.get(page, ""))

    found, unread = collect_text(page_texts, resolver_for(("rd",)), unit_of_page)
    unit = unit_of_page(found.values["研发投入合计"].page) if "研发投入合计" in found else "元"
    return text_reading("rd", found, unread, "研发投入合计", unit)
