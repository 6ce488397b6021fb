"""The retrieval vocabulary (``knowledge/retrieval.toml``): stopwords and extra whole words."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from knowledge.fields import KNOWLEDGE_DIR


@dataclass(frozen=True)
class Vocabulary:
    stopwords: frozenset[str]
    extra_words: tuple[str, ...]
    quantity_words: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    data = tomllib.loads((KNOWLEDGE_DIR / "retrieval.toml").read_text(encoding="utf-8"))
    return Vocabulary(frozenset(data["stopwords"]), tuple(data["extra_words"]), tuple(data.get("quantity_words", ())))
