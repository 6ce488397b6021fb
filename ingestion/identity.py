"""Which company and year a report is: its own pages say so (the cover, 公司简介); the file name is a hint.

A file name in the SMP-2023 scheme declares a company-year. When the pages contradict it, the report
fails with both identities named — a 四方科技 report saved under 金宇生物's name must not fill 金宇生物's
row — unless the caller trusts the content, and then the pages' identity is the one stored. A name outside
the scheme only fills what the pages leave open; when neither tells the code and the year, the report
fails.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ingestion.filenames import ReportIdentity, parse_filename, parse_scheme
from ingestion.pdf_text import PdfError
from knowledge.store import Value

HEAD_PAGES = 3  # the cover, 重要提示 and the contents: where the title and 公司代码 are
PERIOD_PAGES = 10  # 释义 defines 报告期 within the first pages

# The title, on the cover and in every page header of most reports: "2019 年年度报告" (not 半年度报告).
_TITLE_YEAR = re.compile(r"((?:19|20)\d{2})\s*年\s*年度报告")
# 释义: "报告期、本期 指 2019 年 1 月 1 日-2019 年 12 月 31 日".
_PERIOD_YEAR = re.compile(
    r"((?:19|20)\d{2})\s*年\s*0?1\s*月\s*0?1\s*日\s*[-—–~～至到]+\s*\1\s*年\s*12\s*月\s*31\s*日")
_COVER_CODE = re.compile(r"(?:证券|股票|公司)代码\s*[:：]?\s*(\d{6})")
_COVER_SHORT = re.compile(r"(?:证券|股票|公司)简称\s*[:：]?\s*([^\s\d]{2,10})")
_COVER_NAME = re.compile(r"^\s*(\S{2,40}?(?:股份有限公司|有限责任公司|有限公司))\s*$", re.MULTILINE)
_NAME_NOISE = re.compile(r"[\s()（）]")

TRUST_CONTENT_HINT = "确认内容无误可用 --trust-content 按内容导入"


class IdentityMismatch(PdfError):
    """The file name declares one company-year and the report's pages another."""


def _first(pattern: re.Pattern, text: str) -> str | None:
    m = pattern.search(text)
    return m[1] if m else None


def report_year(pages: list[str]) -> int | None:
    """The year the title names most often on the first pages, else the year of 报告期."""
    titles = Counter(_TITLE_YEAR.findall("\n".join(pages[:HEAD_PAGES])))
    if titles:
        return int(titles.most_common(1)[0][0])
    period = _first(_PERIOD_YEAR, "\n".join(pages[:PERIOD_PAGES]))
    return int(period) if period else None


def content_identity(pages: list[str], basic: list[Value]) -> ReportIdentity:
    """What the report says it is: 公司简介's 证券代码 / 公司名称 / 公司简称, else the cover's; the title's year."""
    by_field = {v.field: str(v.value).strip() for v in basic}
    head = "\n".join(pages[:HEAD_PAGES])
    return ReportIdentity(
        code=by_field.get("证券代码") or _first(_COVER_CODE, head),
        full_name=by_field.get("公司名称") or _first(_COVER_NAME, pages[0] if pages else ""),
        short_name=by_field.get("公司简称") or _first(_COVER_SHORT, head),
        year=report_year(pages),
    )


def contradicts(named: ReportIdentity, content: ReportIdentity) -> bool:
    """A code or a year on both sides and different; where the pages name no code, the full name."""
    if named.code and content.code and named.code != content.code:
        return True
    if named.year and content.year and named.year != content.year:
        return True
    if not content.code and named.full_name and content.full_name:
        return _NAME_NOISE.sub("", named.full_name) != _NAME_NOISE.sub("", content.full_name)
    return False


def mismatch_reason(named: ReportIdentity, content: ReportIdentity) -> str:
    return f"文件名与内容不符：文件名为 {named.label()}，内容为 {content.label()}（{TRUST_CONTENT_HINT}）"


def report_identity(path: str | Path, pages: list[str], basic: list[Value], *,
                    trust_content: bool = False) -> ReportIdentity:
    """The company-year to store the report under; raises :class:`IdentityMismatch` when a scheme name
    and the pages disagree (unless ``trust_content``), :class:`PdfError` when nothing tells code and year."""
    content = content_identity(pages, basic)
    declared = parse_scheme(path)
    if declared is None:
        ident = content.merged(parse_filename(path))  # a loose name's guesses only fill gaps
    elif not contradicts(declared, content):
        ident = declared.merged(content)
    elif trust_content:
        ident = content  # nothing from a name that is about another report
    else:
        raise IdentityMismatch(mismatch_reason(declared, content))
    missing = " and ".join(what for what, have in (("company code", ident.code), ("year", ident.year)) if not have)
    if missing and declared is None:
        raise PdfError(f"cannot tell the {missing}: the file name does not follow "
                       f"date__全称__代码__简称__年份__年度报告.pdf and the report's pages do not name it")
    if missing:  # trusting pages that contradict the name, and they do not say it all
        raise PdfError(f"cannot tell the {missing} from the report's pages "
                       f"(the file name's {declared.label()} is not this report's)")
    return ident
