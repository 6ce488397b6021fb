"""Compound questions: split into parts, answer each on the single-question path, merge.

「比较四方科技2019年和2018年的毛利率，并说明变化原因」 → 「比较四方科技2019年和2018年的毛利率」 +
「说明变化原因」. Each later part is understood with the earlier part's context, exactly as a chat
follow-up is, so 「说明变化原因」 searches 四方科技's 2019 report about 毛利率.

A part written twice (「A；A」) is answered once, and nothing after a trailing connector (「A；」) is a part.
"""

from __future__ import annotations

import tomllib
import unicodedata
from functools import lru_cache
from typing import Any

from knowledge.fields import KNOWLEDGE_DIR

# Punctuation around a part that is no part of what it asks.
_PART_EDGES = "，。；; "
# Punctuation not counted when deciding whether a side of a connector is long enough to be a question.
_LENGTH_IGNORES = "，。？?"
# Punctuation and spaces that do not make two parts ask different things.
_SAME_PART_IGNORES = "，。；;？?！! \u3000"


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    return tomllib.loads((KNOWLEDGE_DIR / "compound.toml").read_text(encoding="utf-8"))


def _is_question_sized(text: str, rules: dict[str, Any]) -> bool:
    return len(text.strip(_LENGTH_IGNORES)) >= rules["min_part_chars"]


def _split_on(part: str, connector: str, rules: dict[str, Any], limit: int) -> list[str]:
    """``part`` split at every ``connector`` with a question on both sides, into at most ``limit`` pieces
    (the rest stays in the last), so a long list costs ``limit`` scans, not one per connector."""
    pieces: list[str] = []
    while len(pieces) + 1 < limit:
        head, sep, tail = part.partition(connector)
        if not (sep and _is_question_sized(head, rules) and _is_question_sized(tail, rules)):
            break
        if connector in rules["keep_tail"]:
            tail = connector.lstrip("，。？并") + tail
        pieces.append(head.strip(_PART_EDGES))
        part = tail.strip(_PART_EDGES)
    return pieces + [part]


def _same_part_key(part: str) -> str:
    """What a part asks, whatever its punctuation and width (「A？」 and 「A」 ask the same)."""
    return unicodedata.normalize("NFKC", part).strip(_SAME_PART_IGNORES)


def _distinct(parts: list[str]) -> list[str]:
    """The parts in order, each asked once, none empty."""
    seen: dict[str, str] = {}
    for part in parts:
        if (key := _same_part_key(part)) and key not in seen:
            seen[key] = part
    return list(seen.values())


def split_compound(question: str) -> list[str]:
    """The distinct parts of a compound question, or ``[question]``."""
    rules = _rules()
    whole = question.strip()
    parts = [whole]
    for connector in rules["connectors"]:
        parts = [piece for part in parts for piece in _split_on(part, connector, rules, rules["max_parts"] + 1)]
        if len(parts) > rules["max_parts"]:
            return [whole]  # a list rather than a compound question: answered as one, not a run per part
    parts = _distinct(parts)
    return parts or ([whole] if whole else [])  # only punctuation: answered (refused) as written
