"""What a file name says about a report. A name in the SMP-2023 scheme
``date__full name__code__short name__year__年度报告.pdf`` declares its company and year; a looser name
("600201_2020_年度报告.pdf") only suggests them. Either way the report's own pages have the last word:
see :mod:`ingestion.identity`."""

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

    def label(self) -> str:
        """How a reason names it: "600201 生物股份 2020"."""
        parts = [self.code, self.short_name or self.full_name, str(self.year) if self.year else None]
        return " ".join(p for p in parts if p) or "（未识别）"


def parse_scheme(path: str | Path) -> ReportIdentity | None:
    """The identity a name in the scheme declares; None for any other name."""
    m = _SCHEME.match(Path(path).name)
    if m is None:
        return None
    return ReportIdentity(m["code"], m["full"], m["short"], int(m["year"]), m["date"])


def parse_filename(path: str | Path) -> ReportIdentity:
    """The scheme's identity, else what a loose name suggests (a six-digit code, a year)."""
    declared = parse_scheme(path)
    if declared is not None:
        return declared
    stem = Path(path).stem
    code = _LOOSE_CODE.search(stem)
    years = [int(y) for y in _LOOSE_YEAR.findall(stem)]
    return ReportIdentity(code[1] if code else None, None, None, years[0] if years else None)
