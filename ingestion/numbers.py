"""Cell text → numbers: thousands separators, (parentheses)/minus negatives, '-' or blank for none,
and the 元/千元/万元/百万元 unit of a table."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

UNIT_MULTIPLIERS = {"元": Decimal(1), "千元": Decimal(1000), "万元": Decimal(10_000), "百万元": Decimal(1_000_000),
                    "亿元": Decimal(100_000_000)}
# "单位：元" "单位:人民币千元" "金额单位：人民币百万元" "(除特别注明外，金额单位均为人民币千元)"
# Banks often print the unit alone in the header: "人民币百万元".
_UNIT = re.compile(r"(?:单位\s*[:：]?\s*(?:均为)?\s*(?:人民币)?|人民币)\s*(百万元|千元|万元|亿元|元)")
_NONE = {"", "-", "--", "—", "——", "－", "/", "不适用", "无", "n/a", "N/A", "*"}
_NUMBER = re.compile(r"^(?P<neg>[-−])?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?|\d*\.\d+)$")


def clean_cell(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def parse_number(text: str) -> Decimal | None:
    """'1,234.50' → 1234.50; '(1,234.50)' and '-1,234.50' → -1234.50; '-', '' → None; text → None."""
    s = clean_cell(text).replace("−", "-")
    if s in _NONE:
        return None
    s = s.rstrip("%")
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1]
    m = _NUMBER.match(s)
    if not m:
        return None
    try:
        value = Decimal(m["num"].replace(",", ""))
    except InvalidOperation:
        return None
    return -value if (neg or m["neg"]) else value


def parse_count(text: str) -> int | None:
    value = parse_number(text)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def find_unit(text: str, default: str = "元") -> str:
    m = _UNIT.search(unicodedata.normalize("NFKC", text or ""))
    return m[1] if m else default


def multiplier(unit: str) -> Decimal:
    return UNIT_MULTIPLIERS.get(unit, Decimal(1))


def to_yuan(value: Decimal, unit: str) -> Decimal:
    return value * multiplier(unit)
