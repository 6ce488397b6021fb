"""Compound questions: split into parts, answer each on the single-question path, merge.

「比较四方科技2019年和2018年的毛利率，并说明变化原因」 → 「比较四方科技2019年和2018年的毛利率」 +
「说明变化原因」. Each later part is understood with the earlier part's context, exactly as a chat
follow-up is, so 「说明变化原因」 searches 四方科技's 2019 report about 毛利率.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from knowledge.fields import KNOWLEDGE_DIR


@lru_cache(maxsize=1)
def _rules() -> dict[str, Any]:
    return tomllib.loads((KNOWLEDGE_DIR / "compound.toml").read_text(encoding="utf-8"))


def split_compound(question: str) -> list[str]:
    """The parts of a compound question, or ``[question]``."""
    rules = _rules()
    parts = [question.strip()]
    for connector in rules["connectors"]:
        next_parts = []
        for part in parts:
            head, sep, tail = part.partition(connector)
            if sep and len(head.strip("，。？?")) >= rules["min_part_chars"] and len(tail.strip("，。？?")) >= rules["min_part_chars"]:
                if connector in rules["keep_tail"]:
                    tail = connector.lstrip("，。？并") + tail
                next_parts.extend([head.strip("，。；; "), tail.strip("，。；; ")])
            else:
                next_parts.append(part)
        parts = next_parts
    return [p for p in parts if p]
