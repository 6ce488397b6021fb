"""The numbered headings of CSRC annual-report templates, and their levels.

第三节 公司业务概要 › 一、报告期内公司所从事的主要业务 › （一）主要业务 › 1. …: a short line opening with one
of these marks is a heading, and the mark says its level. Chunking keeps a heading on its own line and
the section reader (tools.retrieval.sections) reads what lies under one.
"""

from __future__ import annotations

import re

_MARK = re.compile(r"^\s*(第[一二三四五六七八九十百]+[节章]|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）]"
                   r"|\d{1,2}(?:\.\d{1,2})+(?=\s|[^\d\s亿万千百元%.])|\d{1,2}[、.．](?!\d))")
# Outermost first; banks number 3.7.2 (one level per dot).
LEVELS = ("section", "cn", "paren", "digit", "digit2", "digit3")
MAX_HEADING_CHARS = 60
# A heading is a title, not a sentence: no sentence punctuation in it.
_SENTENCE_MARKS = re.compile(r"[。；;！？!?，]")


def heading_level(line: str) -> str | None:
    """The level of ``line`` if it is a numbered heading (short, no sentence punctuation), else None."""
    text = line.strip()
    m = _MARK.match(text)
    if not m or len(text) > MAX_HEADING_CHARS or _SENTENCE_MARKS.search(text):
        return None
    mark = m.group(1)
    if mark.startswith("第"):
        return "section"
    if mark[0] in "(（":
        return "paren"
    if mark[0].isdigit():
        # 「1.」 is one level with 「1、」; each dot between numbers goes one deeper (1.2, 1.2.1).
        return LEVELS[min(3 + mark.rstrip(".").count("."), len(LEVELS) - 1)]
    return "cn"


_CN_DIGITS = {c: n for n, c in enumerate("一二三四五六七八九", 1)}


def ordinal(line: str) -> int | None:
    """The number a numbered heading counts: 3 for 「（三）」, 「三、」, 「1.2.3」 and 「第三节」; 12 for 「十二、」."""
    m = _MARK.match(line.strip())
    if not m:
        return None
    numbers = re.findall(r"\d+|[一二三四五六七八九十百]+", m.group(1).removeprefix("第"))
    return _number(numbers[-1]) if numbers else None


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if "百" in text:
        return None  # no heading counts that far
    tens, ten, units = text.partition("十")
    if not ten:
        return _CN_DIGITS.get(text)
    return (_CN_DIGITS.get(tens, 0) if tens else 1) * 10 + (_CN_DIGITS.get(units, 0) if units else 0)


def same_or_outer(level: str) -> tuple[str, ...]:
    """The levels that end a section opened at ``level``."""
    return LEVELS[: LEVELS.index(level) + 1]
