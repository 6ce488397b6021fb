"""Year expressions in questions: 2019年, 19年, 2019-2021年, 2019至2021年, 上年/去年 relative to the year asked."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_RANGE = re.compile(r"(?<!\d)((?:19|20)\d{2})年?\s*(?:-|~|～|—|–|至|到)\s*((?:19|20)\d{2})年?")
_FULL = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_SHORT = re.compile(r"(?<![\d.])(\d{2})年(?!度?报告期)")
# Relative years, by offset from the latest year asked (or from the current report year).
_RELATIVE = {"上年": -1, "去年": -1, "上一年": -1, "前一年": -1, "上一年度": -1, "上年度": -1, "前年": -2}
_RELATIVE_RE = re.compile("|".join(sorted(map(re.escape, _RELATIVE), key=len, reverse=True)))


@dataclass
class YearMentions:
    years: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # where they were written (to mask)
    relative: list[int] = field(default_factory=list)  # offsets of 上年/去年…
    is_range: bool = False


def parse_years(text: str) -> YearMentions:
    """Absolute years in the order written, with ranges expanded; relative words kept as offsets."""
    text = unicodedata.normalize("NFKC", text)
    found: list[int] = []
    spans: list[tuple[int, int]] = []
    taken = [False] * len(text)
    out = YearMentions()

    def claim(m) -> bool:
        if any(taken[m.start():m.end()]):
            return False
        for i in range(m.start(), m.end()):
            taken[i] = True
        spans.append((m.start(), m.end()))
        return True

    for m in _RANGE.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if a <= b <= a + 20 and claim(m):
            found.extend(range(a, b + 1))
            out.is_range = True
    for m in _FULL.finditer(text):
        if claim(m):
            found.append(int(m.group(1)))
    for m in _SHORT.finditer(text):
        if claim(m):
            found.append(2000 + int(m.group(1)))
    for m in _RELATIVE_RE.finditer(text):
        if claim(m):
            out.relative.append(_RELATIVE[m.group(0)])
    out.years = list(dict.fromkeys(found))
    out.spans = spans
    return out


def resolve_years(mentions: YearMentions, default: int | None = None) -> list[int]:
    """Absolute years plus relative ones (上年 of the latest year asked, or of ``default``)."""
    years = list(mentions.years)
    anchor = max(years) if years else default
    if anchor is not None:
        years.extend(anchor + off for off in mentions.relative)
    return sorted(set(years))
