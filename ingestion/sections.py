"""Section structure: the 第X节 headings (skipping the table of contents) → page ranges."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# A heading line: "第十一节 财务报告" (some reports: 第X章). TOC lines carry dot leaders and page numbers.
_HEADING = re.compile(r"^\s*(第[一二三四五六七八九十百]+[节章])\s*([^\s.…·]{2,30})\s*$")
_TOC_LEADER = re.compile(r"[.…·]{4,}|\s\d{1,3}\s*$")


@dataclass(frozen=True)
class Section:
    number: str  # 第十一节
    title: str  # 财务报告
    start: int  # 1-based first page
    end: int  # 1-based last page (inclusive)

    @property
    def name(self) -> str:
        return f"{self.number} {self.title}"


class SectionMap:
    def __init__(self, sections: list[Section]):
        self.sections = sections
        self._starts = [s.start for s in sections]

    def at(self, page: int) -> Section | None:
        i = bisect.bisect_right(self._starts, page) - 1
        return self.sections[i] if i >= 0 else None

    def find(self, *keywords: str) -> Section | None:
        """The first section whose title contains any keyword."""
        for s in self.sections:
            if any(k in s.title for k in keywords):
                return s
        return None


FINANCIAL_REPORT_TITLES = ("财务报告", "财务报表")


def last_front_page(sections: SectionMap | None, page_count: int) -> int:
    """The last page before the financial report (the whole report when no section says where it starts):
    where the headline, business and asset-quality tables stand; the notes to the statements repeat their words."""
    fin = sections.find(*FINANCIAL_REPORT_TITLES) if sections else None
    return fin.start - 1 if fin else page_count


def find_sections(pages: list[str]) -> SectionMap:
    starts: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for number, text in enumerate(pages, 1):
        found = [m for m in map(_HEADING.match, text.splitlines()) if m]
        # A page listing many headings is a table of contents (some have no dot leaders).
        if len(found) >= 4:
            continue
        for line in text.splitlines():
            if _TOC_LEADER.search(line):
                continue
            m = _HEADING.match(line)
            # Each heading opens its section once; a repeat is a cross-reference.
            if m and m[1] not in seen:
                seen.add(m[1])
                starts.append((number, m[1], m[2]))
    sections = [
        # Two sections can open on one page; the earlier one then ends on it.
        Section(num, title, start, max(start, starts[i + 1][0] - 1) if i + 1 < len(starts) else len(pages))
        for i, (start, num, title) in enumerate(starts)
    ]
    return SectionMap(sections)
