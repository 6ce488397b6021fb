"""Year expressions in questions: 2019年, 19年, 二〇一九年, 2019-2021年, 2019至2021年, 上年/去年 relative
to the year asked.

A year counts only where it can be the year of an annual report: a number on its own (not part of a
longer number, a decimal, an exponent, a signed number, an amount such as 2019万元), between
:data:`FIRST_REPORT_YEAR` and the current year. A mention that reads as a year but is none of those
(2099年, 1800年, 公元前2019年, -2019年, 2019e10年) is kept in ``refused``, so the answer names it instead
of answering for a wrong year. A two-digit year NN年 is 20NN when that is not in the future, else 19NN
(99年 is 1999, never 2099).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

# The Shanghai and Shenzhen exchanges opened in 1990: no A-share annual report is older.
FIRST_REPORT_YEAR = 1990

# A number as written: digits, decimals, an exponent. Matched whole, so 12019 is never read as 2019.
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)*(?:[eE][-+−]?[0-9]+)?")
# How much text around a number decides what it is (公元前, 年度报告期, a sign after spaces).
_CONTEXT = 8
# Written before a number, these make it something other than a report year.
_CHRONOLOGY_BEFORE = ("公元前", "BC", "B.C.")
_CHRONOLOGY_AFTER = ("BC", "B.C.")
_SIGNS = "-−+±"
# Written after a number, these make it an amount or a count, not a year (超过2019万元).
_UNITS_AFTER = tuple("万亿千百元%‰倍人个家名位股")
# Between the two years of a range.
_RANGE_LINK = re.compile(r"年?\s*(?:-|−|~|～|—|–|至|到)\s*")
# A range spans at most this many years (2019-2021年).
_RANGE_MAX_YEARS = 20
# 近10年, 过去10年, 10年来: a duration, not the year 2010.
_DURATION_BEFORE = ("近", "过去", "连续", "未来", "这", "每", "满", "长达")
_DURATION_AFTER = ("来", "内", "间", "以上", "以内", "以来", "多")
# 19年报告期 is a period of 19 years, not the year 2019.
_NOT_SHORT_YEAR_AFTER = ("年报告期", "年度报告期")
# Chinese-numeral years (二〇一九年): four digits, read one by one.
_CN_YEAR_DIGITS = {"〇": "0", "○": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
                   "六": "6", "七": "7", "八": "8", "九": "9"}
_CN_DIGIT = "[" + "".join(_CN_YEAR_DIGITS) + "]"
_CN_NUMERAL = "[" + "".join(_CN_YEAR_DIGITS) + "十百千万亿两]"
_CN_YEAR = re.compile(rf"(?<!{_CN_NUMERAL})(?:一九|二[〇○零]){_CN_DIGIT}{{2}}(?!{_CN_NUMERAL})")
# Relative years, by offset from the latest year asked (or from the current report year).
_RELATIVE = {"上年": -1, "去年": -1, "上一年": -1, "前一年": -1, "上一年度": -1, "上年度": -1, "前年": -2}
_RELATIVE_RE = re.compile("|".join(sorted(map(re.escape, _RELATIVE), key=len, reverse=True)))


@dataclass
class YearMentions:
    years: list[int] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # where they were written (to mask)
    relative: list[int] = field(default_factory=list)  # offsets of 上年/去年…
    is_range: bool = False
    refused: list[str] = field(default_factory=list)  # written as years, but no report's year (2099年)


@dataclass
class _Number:
    """One number of the question with the text around it, which decides whether it is a year."""

    start: int
    end: int
    text: str
    before: str  # the few characters written before it
    after: str  # and after it

    @property
    def integer_digits(self) -> int:
        return len(re.match(r"[0-9]*", self.text).group(0))

    @property
    def year_word_end(self) -> int | None:
        """Where the 年 written after the number ends, if one is."""
        gap = len(self.after) - len(self.after.lstrip())
        return self.end + gap + 1 if self.after[gap:gap + 1] == "年" else None

    @property
    def prefix(self) -> str:
        """公元前, BC or a sign written before the number."""
        head = self.before.rstrip()
        if word := next((w for w in _CHRONOLOGY_BEFORE if head.endswith(w)), None):
            return word
        # A minus between two numbers (0513-2019, 2018-2019年) links them; it is a sign only with no number before.
        if head[-1:] and head[-1] in _SIGNS and not head[-2:-1].isdigit() and head[-2:-1] != "年":
            return head[-1]
        return ""

    @property
    def is_bc(self) -> bool:
        after = self.after.lstrip().removeprefix("年").lstrip()
        return self.prefix in _CHRONOLOGY_BEFORE or after.startswith(_CHRONOLOGY_AFTER)

    @property
    def is_amount(self) -> bool:
        return self.after.lstrip().startswith(_UNITS_AFTER)

    @property
    def is_duration(self) -> bool:
        rest = self.after.lstrip().removeprefix("年")
        return self.before.endswith(_DURATION_BEFORE) or rest.startswith(_DURATION_AFTER) \
            or self.after.startswith(_NOT_SHORT_YEAR_AFTER)

    @property
    def mention_span(self) -> tuple[int, int]:
        """Where the whole mention is written: its 公元前 or sign, the number, its 年, a BC after it."""
        gap = len(self.before) - len(self.before.rstrip())
        start = self.start - gap - len(self.prefix) if self.prefix else self.start
        end = self.year_word_end or self.end
        rest = self.after[end - self.end:]
        suffix = next((w for w in _CHRONOLOGY_AFTER if rest.lstrip().startswith(w)), "")
        return start, end + (len(rest) - len(rest.lstrip()) + len(suffix) if suffix else 0)


def latest_report_year() -> int:
    """The latest year a question may ask about: this calendar year."""
    return date.today().year


def two_digit_year(nn: int, latest: int) -> int:
    """19年 → 2019; 99年 → 1999, since 2099 is in the future."""
    return 2000 + nn if 2000 + nn <= latest else 1900 + nn


def _with_arabic_years(text: str) -> str:
    """二〇一九年 → 2019年, the same length, so spans found in the result are spans of ``text``."""
    return _CN_YEAR.sub(lambda m: "".join(_CN_YEAR_DIGITS[c] for c in m.group(0)), text)


def _numbers(text: str) -> list[_Number]:
    return [_Number(m.start(), m.end(), m.group(0), text[max(0, m.start() - _CONTEXT):m.start()],
                    text[m.end():m.end() + _CONTEXT]) for m in _NUMBER.finditer(text)]


def _year_of(n: _Number, latest: int) -> int | None:
    """The report year ``n`` is, if it is one: whole digits, no sign, not BC, not an amount, in range."""
    if not n.text.isdigit() or n.prefix or n.is_bc or n.is_amount:
        return None
    if len(n.text) == 4:
        year = int(n.text)
    elif len(n.text) == 2 and n.year_word_end and not n.is_duration:
        year = two_digit_year(int(n.text), latest)
    else:
        return None
    return year if FIRST_REPORT_YEAR <= year <= latest else None


def _is_refused(n: _Number, latest: int) -> bool:
    """Written as a year (2099年, 公元前2019年, -2019年, 2019e10年, 89年) but one no report can have.
    Called for numbers that are not report years."""
    if n.is_bc:
        return True
    if not n.year_word_end:
        return False  # a bare number out of range (1950, 2099) is a number, not a year
    if "e" in n.text.lower():
        return True  # an exponent is never a year, nor a duration
    if n.prefix or "." in n.text:
        return n.integer_digits >= 4  # -2019年, 2019.5年; -3年 and 1.5年 are changes and durations
    if len(n.text) == 2:
        return not n.is_duration and two_digit_year(int(n.text), latest) < FIRST_REPORT_YEAR
    return len(n.text) >= 4  # 2099年, 1800年, 12019年


def parse_years(text: str, *, latest: int | None = None) -> YearMentions:
    """Absolute years in the order written, with ranges expanded; relative words kept as offsets; mentions
    of years no report has (after ``latest``, by default this year, or before 1990) in ``refused``."""
    latest = latest_report_year() if latest is None else latest
    written = unicodedata.normalize("NFKC", text)
    text = _with_arabic_years(written)
    found: list[int] = []
    taken = [False] * len(text)
    out = YearMentions()

    def claim(start: int, end: int) -> bool:
        if any(taken[start:end]):
            return False
        taken[start:end] = [True] * (end - start)
        out.spans.append((start, end))
        return True

    numbers = _numbers(text)
    for a, b in itertools.pairwise(numbers):
        first, last = _year_of(a, latest), _year_of(b, latest)
        if _RANGE_LINK.fullmatch(text, a.end, b.start) and len(a.text) == len(b.text) == 4 and first and last \
                and first <= last <= first + _RANGE_MAX_YEARS and claim(a.start, b.year_word_end or b.end):
            found.extend(range(first, last + 1))
            out.is_range = True
    for n in numbers:
        if (year := _year_of(n, latest)) is not None:
            # A two-digit year is masked with its 年 (19年), a four-digit one without (as before).
            if claim(n.start, n.end if len(n.text) == 4 else n.year_word_end):
                found.append(year)
        elif _is_refused(n, latest) and claim(*n.mention_span):
            start, end = n.mention_span
            out.refused.append(written[start:end])  # as the question wrote it, for the answer to name
    for m in _RELATIVE_RE.finditer(text):
        if claim(m.start(), m.end()):
            out.relative.append(_RELATIVE[m.group(0)])
    out.years = list(dict.fromkeys(found))
    return out


def resolve_years(mentions: YearMentions, default: int | None = None) -> list[int]:
    """Absolute years plus relative ones (上年 of the latest year asked, or of ``default``)."""
    years = list(mentions.years)
    anchor = max(years) if years else default
    if anchor is not None:
        years.extend(anchor + off for off in mentions.relative)
    return sorted(set(years))
