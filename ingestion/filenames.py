"""Report identity (company, year) from the file-name scheme
``date__full name__code__short name__year__年度报告.pdf``, with a fallback to the report's own text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_SCHEME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})__(?P<full>[^_]+?)__(?P<code>[0-9A-Za-z]{6})__(?P<short>[^_]+?)"
    r"__(?P<year>(?:19|20)\d{2})年?__"
)
# Loose forms seen in the wild: "600201_2020_年度报告.pdf", "600201-2020.pdf".
_LOOSE_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_LOOSE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:年|年度)?(?!\d)")


@dataclass(frozen=True)
class ReportIdentity:
    code: str | None
    full_name: str | None
    short_name: str | None
    year: int | None
    published: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.code and self.year and self.full_name)

    def merged(self, other: "ReportIdentity") -> "ReportIdentity":
        """Fill what this one lacks from ``other``."""
        return ReportIdentity(
            code=self.code or other.code,
            full_name=self.full_name or other.full_name,
            short_name=self.short_name or other.short_name,
            year=self.year or other.year,
            published=self.published or other.published,
        )


def parse_filename(path: str | Path) -> ReportIdentity:
    name = Path(path).name
    m = _SCHEME.match(name)
    if m:
        return ReportIdentity(m["code"], m["full"], m["short"], int(m["year"]), m["date"])
    stem = Path(path).stem
    code = _LOOSE_CODE.search(stem)
    years = [int(y) for y in _LOOSE_YEAR.findall(stem)]
    return ReportIdentity(code[1] if code else None, None, None, years[0] if years else None)


# The cover and the first pages say which year the report covers: "2019 年年度报告".
_COVER_YEAR = re.compile(r"((?:19|20)\d{2})\s*年\s*年度报告")
_COVER_CODE = re.compile(r"(?:证券|股票|公司)代码\s*[:：]?\s*(\d{6})")
_COVER_SHORT = re.compile(r"(?:证券|股票|公司)简称\s*[:：]?\s*([^\s\d]{2,10})")


def identity_from_text(pages: list[str]) -> ReportIdentity:
    """Best effort from the cover pages (used when the file name does not follow the scheme)."""
    head = "\n".join(pages[:3])
    year = _COVER_YEAR.search(head)
    code = _COVER_CODE.search(head)
    short = _COVER_SHORT.search(head)
    return ReportIdentity(
        code[1] if code else None, None, short[1] if short else None, int(year[1]) if year else None
    )
