"""Numbers in a generated answer must come from the tools.

An LLM may reword an answer; it may not state a figure the tools did not produce. A number counts as
produced when it equals (after removing thousands separators) a number found in the tool results,
the passages, or the question itself.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_NUMBER = re.compile(r"-?\d[\d,，]*(?:\.\d+)?")


def numbers_in(text: str) -> set[Decimal]:
    found = set()
    for match in _NUMBER.findall(text or ""):
        try:
            found.add(Decimal(match.replace(",", "").replace("，", "")).normalize())
        except InvalidOperation:
            continue
    return found


def supported_numbers(*sources: Any) -> set[Decimal]:
    """Every number in ``sources`` (strings or JSON-able data): what an answer may state."""
    allowed: set[Decimal] = set()
    for source in sources:
        text = source if isinstance(source, str) else json.dumps(source, ensure_ascii=False, default=str)
        allowed |= numbers_in(text)
    return allowed


def unsupported_numbers(answer: str, *sources: Any, supported: set[Decimal] | None = None) -> set[Decimal]:
    """Numbers in ``answer`` that appear in none of ``sources`` (or in ``supported``, computed once by
    :func:`supported_numbers` when many sentences are checked against the same sources)."""
    allowed = supported if supported is not None else supported_numbers(*sources)
    # Page references and small ordinals (第1页, 3家) are not figures.
    return {n for n in numbers_in(answer) - allowed if not (n == n.to_integral_value() and abs(n) < 10)}
