"""Fallback when camelot finds no usable table on a statement's pages: rows from the text layer.

A line "货币资金 七、1 905,402,299.44 627,041,535.44" becomes [label, current, prior]. Only figures with
a thousands separator, a decimal point or parentheses count as values, so note numbers stay in the label;
a note number standing alone between the label and the figures ("基本每股收益(人民币元) 48 2.15 2.25")
is dropped. A line with one figure cannot say which column it sits in, nor one with three or more (group
and parent side by side, or a change column): those contribute their label only.
"""

from __future__ import annotations

import re

from ingestion.locate import (
    CONSOLIDATED_HEADINGS,
    ENDING_HEADINGS,
    PLAIN_HEADINGS,
    heading_form,
)
from ingestion.statements import TERMINAL_FIELDS
from ingestion.tables import PageTable
from knowledge.fields import FieldDictionary, field_dictionary

_FIGURE = re.compile(r"^(?:[(（]?[-−－]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)[)）]?|[(（]\d+[)）])$")
_NOTE_REF = re.compile(r"^\d{1,3}$")  # "七、1" stays: label normalisation drops it
HEADER = ["项目", "本期", "上期"]


def line_row(line: str) -> list[str]:
    tokens = line.split()
    figures: list[str] = []
    while tokens and _FIGURE.match(tokens[-1]):
        figures.insert(0, tokens.pop())
    if len(figures) == 2 and len(tokens) > 1 and _NOTE_REF.match(tokens[-1]):
        tokens.pop()
    label = "".join(tokens)
    if len(figures) == 2:
        return [label, figures[0], figures[1]]
    return [label, "", ""]


def text_tables(kind: str, page_texts: dict[int, str]) -> list[PageTable]:
    """One pseudo-table per page, from the statement's heading to the next statement's heading."""
    own = set(CONSOLIDATED_HEADINGS[kind]) | set(PLAIN_HEADINGS[kind])
    ending = set(ENDING_HEADINGS) - own
    tables, started = [], False
    for page, text in sorted(page_texts.items()):
        rows = []
        for line in text.splitlines():
            form = heading_form(line)
            if not started:
                started = form in own
                continue
            if form in ending:
                break
            rows.append(line_row(line))
        else:
            if started and rows:
                tables.append(PageTable(page, ([HEADER] if not tables else []) + rows, "text"))
            continue
        if rows:
            tables.append(PageTable(page, ([HEADER] if not tables else []) + rows, "text"))
        break
    return tables


def last_page(kind: str, page_texts: dict[int, str], fields: FieldDictionary | None = None) -> int | None:
    """The page where the statement's last line item (负债和所有者权益总计, 稀释每股收益, 期末现金及现金等价物余额)
    stands with its figures, by the text layer; the tables of later pages are not this statement's. None when
    no line says so (then every located page is read)."""
    fields = fields or field_dictionary()
    own = set(CONSOLIDATED_HEADINGS[kind]) | set(PLAIN_HEADINGS[kind])
    terminal = TERMINAL_FIELDS.get(kind, ())
    for i, (page, text) in enumerate(sorted(page_texts.items())):
        lines = text.splitlines()
        if i == 0:  # on the heading page, what stands above the heading is another statement's tail
            at = next((n for n, line in enumerate(lines) if heading_form(line) in own), 0)
            lines = lines[at:]
        for line in lines:
            label, current, prior = line_row(line)
            found = fields.resolve(label) if current and prior else None
            if found is not None and found.name in terminal:
                return page
    return None
