"""Intent classification: rules and cue dictionaries (knowledge/intents.toml), or the intent adapter.

The rules decide from what entity linking found (companies, fields, formulas) plus cue words. The
graph asks the intent adapter first when an endpoint is configured; :func:`parse_intent_label` reads
its reply, and any failure or unknown label falls back to the rules.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import lru_cache
from typing import Any

from knowledge.fields import KNOWLEDGE_DIR, field_dictionary

_CJK = re.compile(r"[\u4e00-\u9fff]")  # masked names and years are U+3000, outside this range

INTENTS = ("基本信息", "员工信息", "财务报表", "计算题", "统计题", "开放性问题", "金融概念", "其他")
LOOKUP_INTENTS = ("基本信息", "员工信息", "财务报表")


@lru_cache(maxsize=1)
def intent_rules() -> dict[str, Any]:
    return tomllib.loads((KNOWLEDGE_DIR / "intents.toml").read_text(encoding="utf-8"))


def cues(name: str) -> list[str]:
    return intent_rules()["cues"][name]


def has_cue(text: str, name: str) -> bool:
    return any(c in text for c in cues(name))


def unwrapped(text: str) -> str:
    """``text`` without the words that only wrap a lookup (「请告诉我…的具体情况」)."""
    for word in sorted(cues("wrapper"), key=len, reverse=True):
        text = text.replace(word, "\u3000")
    return text


def lookup_intent(fields: list[str]) -> str:
    """基本信息 / 员工信息 / 财务报表 from the statements of the fields asked (the first decides)."""
    rules = intent_rules()["lookup_by_statement"]
    fd = field_dictionary()
    for name in fields:
        if name in rules["staff_fields"]:
            return "员工信息"
        if name in fd:
            return rules.get(fd[name].statement, "财务报表")
    return "财务报表"


def statistic_kind(text: str) -> str | None:
    """compare_years | rank | count | compare_companies, from cue words alone."""
    for words in cues("not_rank"):
        text = text.replace(words, "\u3000")
    if has_cue(text, "compare_years") or any(re.search(p, text) for p in intent_rules()["cues"]["compare_years_patterns"]):
        return "compare_years"
    if has_cue(text, "count") and (has_cue(text, "above") or has_cue(text, "below")):
        return "count"
    if has_cue(text, "rank_desc") or has_cue(text, "rank_asc") or re.search(r"前\s*[\d一二三四五六七八九十]+\s*[名家位]", text) \
            or re.search(r"第\s*[\d一二三四五六七八九十]+\s*[高低多少大小]", text):
        return "rank"
    return None


def classify_rules(text: str, *, has_company: bool, fields: list[str], formula: str | None,
                   formula_is_lookup: bool, has_year: bool, statistic: dict | None) -> str:
    """``text`` is the normalised question with company names masked."""
    if statistic and statistic.get("kind") in ("compare_years", "rank", "count", "compare_companies") \
            and (fields or formula):
        return "统计题"
    if formula:
        if not has_company and not has_year and has_cue(text, "concept"):
            return "金融概念"
        if formula_is_lookup and not has_cue(text, "compute"):
            return lookup_intent(fields) if fields else "财务报表"
        return "计算题"
    if fields and (has_company or has_year):
        if has_cue(text, "lookup") or not has_cue(unwrapped(text), "open"):
            return lookup_intent(fields)
        return "开放性问题"
    if has_company:
        # A company and nothing to ask about it (「四方科技'; DROP TABLE …」) is not a report question.
        return "开放性问题" if len(_CJK.findall(text)) >= 2 else "其他"
    if has_cue(text, "other") and not fields:
        return "其他"
    if fields or has_cue(text, "concept") or has_cue(text, "open") or has_cue(text, "lookup"):
        return "金融概念"
    return "其他"


def parse_intent_label(raw: str) -> str | None:
    """The label in the intent adapter's reply (JSON, or a bare label), or None when it names none."""
    text = raw[raw.find("{"):] if "{" in raw else raw
    try:
        label = json.loads(text[: text.rfind("}") + 1]).get("intent")
    except (ValueError, AttributeError):
        label = next((i for i in INTENTS if i in raw), None)
    return label if label in INTENTS else None
