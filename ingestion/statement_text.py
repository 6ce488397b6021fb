"""Fallback when camelot finds no usable table on a statement's pages: rows from the text layer.

A line "货币资金 七、1 905,402,299.44 627,041,535.44" becomes [label, current, prior]. Only figures with
a thousands separator, a decimal point or parentheses count as values, so note numbers stay in the label.
A line with one figure cannot say which column it sits in, nor one with three or more (group and parent
side by side, or a change column): those contribute their label only.
"""

from __future__ import annotations

import re

from ingestion.locate import (
    CONSOLIDATED_HEADINGS,
    ENDING_HEADINGS,
    PLAIN_HEADINGS,
    heading_form,
)
from ingestion.tables import PageTable

_FIGURE = re.compile(r"^[(（]?[-−－]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)[)）]?$")
HEADER = ["项目", "本期", "上期"]


def line_row(line: str) -> list[str]:
    tokens = line.split()
    figures: list[str] = []
    while tokens and _FIGURE.match(tokens[-1]):
        figures.insert(0, tokens.pop())
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
