"""The analyst set's judge: the numbers an answer asserts (with their units), refusals, and one verdict per answer.

Verdicts: ``right``, ``wrong_number`` (the answer asserts a number and none is the expected one — the worst case),
``refused`` and ``other`` (no number, a phrase missing, the year not stated, the right value without the requested
unit or decimals). The rules are in benchmarks/analyst/README.md, "Judging".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from agent.evaluation import REFUSAL_MARKERS

RIGHT, WRONG_NUMBER, REFUSED, OTHER = "right", "wrong_number", "refused", "other"
VERDICTS = (RIGHT, WRONG_NUMBER, REFUSED, OTHER)

# The project's refusal phrasing (knowledge/answers.toml [refusal]) plus the out-of-scope reply.
REFUSAL_PHRASES = (*REFUSAL_MARKERS, "只能回答", "无法提供", "不能回答", "未披露", "没有披露", "不包含")

# After one of these the answer states its result: a formula answer prints its inputs first.
RESULT_MARKERS = ("得出", "结果为", "结果是", "计算得", "算得")

# More numbers than this (after the result marker) and the answer is a passage of the report, not an assertion:
# a table row pasted from the report holds the right figure among its neighbours.
PASSAGE_NUMBERS = 4

# Words that make the number after them a decrease: 「同比减少4.49%」 asserts -4.49 %.
DECREASE_WORDS = ("减少", "下降", "下滑", "降低", "亏损")

# unit as printed → (dimension, multiplier to the dimension's base: 元, %, 人, 元/股)
UNITS: dict[str, tuple[str, Decimal]] = {
    "万亿元": ("money", Decimal("1e12")), "千万元": ("money", Decimal("1e7")), "百万元": ("money", Decimal("1e6")),
    "亿元": ("money", Decimal("1e8")), "万元": ("money", Decimal("1e4")), "千元": ("money", Decimal("1e3")),
    "元/股": ("per_share", Decimal(1)), "元／股": ("per_share", Decimal(1)), "元": ("money", Decimal(1)),
    "亿": ("money", Decimal("1e8")), "万人": ("count", Decimal("1e4")), "万": ("money", Decimal("1e4")),
    "个百分点": ("percent", Decimal(1)), "%": ("percent", Decimal(1)), "％": ("percent", Decimal(1)),
    "人": ("count", Decimal(1)), "名": ("count", Decimal(1)), "位": ("count", Decimal(1)),
    "倍": ("bare", Decimal(1)),
}
# The units an expectation is written in (README "expect forms").
EXPECT_UNITS = {"元": ("money", Decimal(1)), "万元": ("money", Decimal("1e4")), "亿元": ("money", Decimal("1e8")),
                "百万元": ("money", Decimal("1e6")), "%": ("percent", Decimal(1)), "人": ("count", Decimal(1)),
                "元/股": ("per_share", Decimal(1)), "": ("bare", Decimal(1))}
# A requested unit that the answer must print (「多少亿」, 「多少万元」).
REQUESTED_UNITS = {"万元": ("万元", "万"), "亿元": ("亿元", "亿"), "百万元": ("百万元",)}

_UNIT_RE = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<![0-9A-Za-z.@/_])(?P<sign>[-−－]?)\s?(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    rf"(?P<space>\s?)(?P<unit>{_UNIT_RE})?")
# What follows a number that is not a quantity: a year, a date, a page, a code suffix.
_NOT_QUANTITY_AFTER = re.compile(r"\s?(?:年|月|日|号|页|季度)|\.S[HZ]|\.s[hz]|[-－]\d|/\d|[A-Za-z]")
_NOT_QUANTITY_BEFORE = ("第", "p.", "P.", "页", "SH", "SZ", "sh", "sz", "ZL", "－", "—")
# A list marker: 「1. 四方科技」, 「41. 递延所得税」, 「1、研发平台」, 「（2）」.
_LIST_MARKER = re.compile(r"\.(?=\s|[^\x00-\x7f])|、|[)）]")


@dataclass(frozen=True)
class Quantity:
    """One number of an answer: its value in the dimension's base unit, as printed."""

    value: Decimal  # in 元 for money, % for percent, 人, 元/股, or as printed (bare)
    dimension: str  # money | percent | count | per_share | bare
    unit: str  # the unit as printed ("" when none)
    decimals: int  # decimals printed
    significant: int  # significant digits printed
    start: int
    printed: str = ""  # the number and unit as the answer printed them
    decrease: bool = False  # printed after 减少/下降: the signed value is -value

    def values(self) -> list[Decimal]:
        return [self.value, -self.value] if self.decrease and self.value > 0 else [self.value]


def _significant(digits: str) -> int:
    return len(digits.replace(",", "").replace(".", "").lstrip("0")) or 1


def parse_quantities(text: str, *, ignore: tuple[str, ...] = ()) -> list[Quantity]:
    """Every quantity in ``text``, with its unit; years, dates, pages, phone numbers and stock codes are not
    quantities. ``ignore`` names numbers that are no quantity here (the stock codes the question typed)."""
    found: list[Quantity] = []
    for m in _NUMBER.finditer(text):
        start, end = m.start("digits"), m.end("digits")
        digits, unit = m.group("digits"), m.group("unit") or ""
        if not unit and _NOT_QUANTITY_AFTER.match(text, end):
            continue
        before = text[max(0, start - 2):start].rstrip()
        if any(before.endswith(b) for b in _NOT_QUANTITY_BEFORE):
            continue
        if start >= 2 and text[start - 1] in "-－" and text[start - 2].isascii() and text[start - 2].isalnum():
            continue  # the second half of 0513-81658162, 2019-2020 or ABSL-3
        if not unit and digits in ignore:
            continue
        if not unit and len(digits) <= 2 and _LIST_MARKER.match(text, end):
            continue
        dimension, multiplier = UNITS.get(unit, ("bare", Decimal(1)))
        value = Decimal(digits.replace(",", "")) * multiplier
        if m.group("sign"):
            value = -value
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        prefix = text[max(0, m.start() - 5):m.start()].rstrip()
        decrease = prefix.endswith((*DECREASE_WORDS, *(w + "了" for w in DECREASE_WORDS)))
        found.append(Quantity(value, dimension, unit, decimals, _significant(digits), start,
                              printed=m.group("sign") + digits + unit, decrease=decrease))
    return found


def asserted_quantities(text: str, *, ignore: tuple[str, ...] = ()) -> list[Quantity]:
    """The quantities the answer asserts: after its last result marker (得出 …) when it has one, else all."""
    cut = max((text.rfind(marker) for marker in RESULT_MARKERS), default=-1)
    return parse_quantities(text[cut:] if cut >= 0 else text, ignore=ignore)


def is_refusal(answer: str) -> bool:
    return any(phrase in answer for phrase in REFUSAL_PHRASES)


def states_year(answer: str, year: int) -> bool:
    return re.search(rf"(?<!\d){year}\s?年", answer) is not None


def _normalise(text: str) -> str:
    table = str.maketrans("，。：；（）", ",.:;()")
    return re.sub(r"\s+", "", text).translate(table).lower()


@dataclass
class Verdict:
    verdict: str
    reason: str = ""
    asserted: list[str] = field(default_factory=list)  # the asserted quantities, for the records


def _candidates(q: Quantity, dimension: str, multiplier: Decimal) -> list[tuple[Decimal, Decimal]]:
    """The quantity's values in the expectation's unit, each with its tolerance (half a unit of the last digit
    the answer printed); [] when its dimension does not fit the expectation's."""
    half_digit = Decimal(5) * Decimal(10) ** (-q.decimals - 1)
    if q.dimension == dimension:
        tolerance = half_digit * UNITS[q.unit][1] / multiplier if q.unit else half_digit
        return [(v / multiplier, tolerance) for v in q.values()]
    if q.dimension == "bare":  # a number without unit is read in the expectation's unit
        pairs = [(v, half_digit) for v in q.values()]
        if dimension == "percent":  # 0.2315 for 23.15 %
            pairs += [(v * 100, half_digit * 100) for v in q.values()]
        return pairs
    if dimension == "per_share" and q.unit == "元":  # 每股收益0.62元
        return [(v, half_digit) for v in q.values()]
    if dimension == "bare" and q.dimension == "percent":  # 流动比率 235.40%
        return [(v / 100, half_digit / 100) for v in q.values()]
    return []


def number_matches(q: Quantity, expected: Decimal, unit: str, places: int | None, *, coarse: bool = False) -> bool:
    """Whether the quantity is the expected number: within the precision it prints or the expected number is
    written with (and at least 3 significant digits, or as many as the expected number has), or rounded to
    ``places`` decimals when these are asked. ``coarse``: any number of significant digits will do."""
    dimension, multiplier = EXPECT_UNITS[unit]
    own_digit = Decimal(5) * Decimal(10) ** (expected.as_tuple().exponent - 1)  # as written: 3.26, 1406
    for value, tolerance in _candidates(q, dimension, multiplier):
        if coarse:
            if abs(value - expected) <= max(tolerance, own_digit) + Decimal("1e-9"):
                return True
            continue
        if places is not None:
            quantum = Decimal(10) ** -places
            if q.decimals >= places and value.quantize(quantum, ROUND_HALF_UP) == expected.quantize(
                    quantum, ROUND_HALF_UP):
                return True
            continue
        if q.significant < min(3, _significant(format(expected.normalize(), "f"))):
            continue  # 「约1亿元」 is not 1.18 亿
        # The expected number is known to its own last digit too: 3.264 is the printed 3.26.
        if abs(value - expected) <= max(tolerance, own_digit) + Decimal("1e-9"):
            return True
    return False


def judge(answer: str, expect: dict, *, question: str = "", codes: tuple[str, ...] = ()) -> Verdict:
    """One answer against one expectation (README "expect forms"). ``codes``: stock codes that are no quantity
    when printed bare (those the question typed are added)."""
    ignore = (*codes, *re.findall(r"\d{6}", question))
    asserted = asserted_quantities(answer, ignore=ignore)
    refused = is_refusal(answer)
    if refused and answer.startswith(REFUSAL_MARKERS):
        # A refusal quotes what it could not find (「逾期90天以上贷款拨备覆盖率」): the question's own numbers
        # in it are no figure asserted.
        asserted = [q for q in asserted if re.sub(r"[^\d.]", "", q.printed) not in question]
    shown = [q.printed for q in asserted]
    if expect.get("refuse"):
        if asserted:
            return Verdict(WRONG_NUMBER, "a number where a refusal was due", shown)
        return Verdict(RIGHT if refused else OTHER, "" if refused else "neither a refusal nor a number", shown)
    year = expect.get("year")
    if "number" in expect:
        expected, unit, places = Decimal(str(expect["number"])), expect.get("unit", ""), expect.get("places")
        if len(asserted) > PASSAGE_NUMBERS:
            return Verdict(OTHER, f"a passage with {len(asserted)} numbers, no figure asserted", shown)
        matching = [q for q in asserted if number_matches(q, expected, unit, places)]
        if not matching:
            if places is not None and any(number_matches(q, expected, unit, None) for q in asserted):
                return Verdict(OTHER, f"the value without the {places} decimals asked", shown)
            near = [q for q in asserted if number_matches(q, expected, unit, None, coarse=True)]
            if near and unit in REQUESTED_UNITS and not any(q.unit in REQUESTED_UNITS[unit] for q in near):
                return Verdict(OTHER, f"the value, but not in {unit}", shown)
            if near:
                return Verdict(OTHER, "the value, printed too coarsely", shown)
            if asserted:
                return Verdict(WRONG_NUMBER, f"expected {expected}{unit}", shown)
            return Verdict(REFUSED if refused else OTHER, "" if refused else "no number", shown)
        if unit in REQUESTED_UNITS and not any(q.unit in REQUESTED_UNITS[unit] for q in matching):
            return Verdict(OTHER, f"the value, but not in {unit}", shown)
    else:
        text = _normalise(answer)
        phrases_any, phrases_all = expect.get("text_any"), expect.get("text_all")
        if phrases_any and not any(_normalise(p) in text for p in phrases_any):
            return Verdict(REFUSED if refused else OTHER, "" if refused else f"none of {phrases_any}", shown)
        if phrases_all:
            absent = [p for p in phrases_all if _normalise(p) not in text]
            if absent:
                return Verdict(REFUSED if refused and len(absent) == len(phrases_all) else OTHER,
                               f"missing {absent}", shown)
        present = [p for p in expect.get("text_none", []) if _normalise(p) in text]
        if present:
            return Verdict(OTHER, f"contains {present}", shown)
    if year and not states_year(answer, int(year)):
        return Verdict(OTHER, f"the year {year} is not stated", shown)
    return Verdict(RIGHT, "", shown)
