"""The wide-table schema as the NL2SQL prompt shows it, with look-alike columns explained.

Columns whose names differ by an edit or two (营业收入 / 营业总收入, 应收票据 / 应付票据, 经营活动现金流入小计 /
经营活动现金流出小计) or where one name contains the other (净利润 / 归属于母公司所有者的净利润) are where a
model picks the wrong column. Every such column in a prompt carries an explanation: the dictionary's
``desc`` where it has one, a generated one otherwise (statement, unit, and which columns it is not).
"""

from __future__ import annotations

from functools import lru_cache

from knowledge.fields import FieldDef, FieldDictionary, field_dictionary
from knowledge.store import WIDE_TABLE

STATEMENT_NAMES = {
    "basic": "公司基本信息", "staff": "员工情况", "rd": "研发投入", "balance": "资产负债表",
    "income": "利润表", "cash_flow": "现金流量表", "other": "其他",
}
UNIT_NAMES = {"money": "金额，元", "count": "人数/个数", "percent": "百分比，3.52 表示 3.52%", "ratio": "比值", "text": "文本"}
MAX_EDIT = 2  # names within this edit distance (and at most half the shorter name) look alike
MIN_CONTAINED = 3  # a contained name shorter than this (e.g. 股本 in 股本总额) is too generic to count


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (names are short: the quadratic table is fine)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def looks_alike(a: str, b: str) -> bool:
    if a == b:
        return False
    shorter = min(len(a), len(b))
    d = edit_distance(a, b)
    if d <= MAX_EDIT and d * 2 <= shorter:
        return True
    small, big = sorted((a, b), key=len)
    return len(small) >= MIN_CONTAINED and small in big


@lru_cache(maxsize=4)
def _lookalike_table(fields_id: int, names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {n: [] for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if looks_alike(a, b):
                table[a].append(b)
                table[b].append(a)
    # Closest first, so a prompt that lists only a few shows the most confusable ones.
    return {a: tuple(sorted(bs, key=lambda b: (edit_distance(a, b), b))) for a, bs in table.items()}


def lookalikes(fields: FieldDictionary | None = None) -> dict[str, tuple[str, ...]]:
    fields = fields or field_dictionary()
    return _lookalike_table(id(fields), tuple(f.name for f in fields))


def describe(f: FieldDef, confusable: list[str]) -> str:
    """The explanation a look-alike column gets in the prompt."""
    base = f.desc or f"{STATEMENT_NAMES[f.statement]}中的“{f.name}”"
    synonyms = [s for s in f.synonyms if "(" not in s][:2]
    if synonyms and not f.desc:
        base += "，又称" + "、".join(synonyms)
    confusable = [c for c in confusable if c not in f.desc]  # a desc that already names it says enough
    if confusable:
        base += "；不同于" + "、".join(f"“{c}”" for c in confusable)
    return base


def render_schema(columns: list[str], entities: list[tuple[str, str]], fields: FieldDictionary | None = None) -> str:
    """The user-message preamble of an NL2SQL example: tables, the listed columns with units and the
    explanations of look-alikes, and the companies already linked (mention → code)."""
    fields = fields or field_dictionary()
    alike = lookalikes(fields)
    listed = set(columns)
    lines = [
        f"表 {WIDE_TABLE}：每行是一家公司一个年度；键 company_code（证券代码，文本）、year（年份，整数）。",
        "表 companies：code（证券代码）、full_name（公司全称）、short_name（公司简称）。",
        f"{WIDE_TABLE} 的相关列：",
    ]
    for name in columns:
        f = fields[name]
        confusable = [c for c in alike.get(name, ()) if c in listed]
        line = f"- \"{name}\"（{UNIT_NAMES[f.unit]}）"
        if confusable or f.desc:
            line += "：" + describe(f, confusable)
        lines.append(line)
    if entities:
        lines.append("已识别的公司：" + "；".join(f"{mention} → company_code '{code}'" for mention, code in entities))
    return "\n".join(lines)
