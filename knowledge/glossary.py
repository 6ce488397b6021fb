"""The finance glossary as data (``knowledge/glossary.toml``): its entries, and the ones a text names.

Each entry's ``report_terms`` are the words annual reports use for the concept; retrieval adds them to
a question that names it (客户集中度 → 前五名客户销售额). The glossary *tool* (concept questions) is
:mod:`tools.glossary`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from knowledge.fields import KNOWLEDGE_DIR, normalize_label

GLOSSARY_PATH = KNOWLEDGE_DIR / "glossary.toml"


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    definition: str
    formula: str = ""
    aliases: tuple[str, ...] = ()
    report_terms: tuple[str, ...] = ()
    category: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)

    def text(self) -> str:
        """The entry as one answer paragraph: definition, then the formula when there is one."""
        return f"{self.definition}计算公式：{self.formula}。" if self.formula else self.definition


def load_glossary(path: Path | None = None) -> tuple[GlossaryEntry, ...]:
    return _load(str(path or GLOSSARY_PATH))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[GlossaryEntry, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    entries: list[GlossaryEntry] = []
    seen: dict[str, str] = {}
    for category, block in data.items():
        for raw in block:
            entry = GlossaryEntry(
                term=raw["term"],
                definition=raw["definition"],
                formula=raw.get("formula", ""),
                aliases=tuple(raw.get("aliases", ())),
                report_terms=tuple(raw.get("report_terms", ())),
                category=category,
            )
            for name in entry.names:
                key = normalize_label(name)
                if key in seen:
                    raise ValueError(f"glossary name {name!r} is used by {seen[key]!r} and {entry.term!r}")
                seen[key] = entry.term
            entries.append(entry)
    return tuple(entries)


def named_in(question: str, entries: tuple[GlossaryEntry, ...] | None = None) -> list[GlossaryEntry]:
    """Entries whose term or alias occurs in the question, in order of mention; a name inside a longer
    matched name does not count (「流动资产」 in 「非流动资产」)."""
    text = normalize_label(question)
    hits: list[tuple[int, int, GlossaryEntry]] = []
    keys = _default_name_keys() if entries is None else _name_keys(entries)
    for key, entry in keys:
        start = text.find(key)
        while start >= 0:
            hits.append((start, start + len(key), entry))
            start = text.find(key, start + 1)
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, GlossaryEntry]] = []
    for start, end, entry in hits:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        if all(entry is not f for _, f in found):
            found.append((start, entry))
    return [e for _, e in sorted(found, key=lambda f: f[0])]


def _name_keys(entries) -> tuple[tuple[str, GlossaryEntry], ...]:
    return tuple((normalize_label(n), e) for e in entries for n in e.names if normalize_label(n))


@lru_cache(maxsize=1)
def _default_name_keys() -> tuple[tuple[str, GlossaryEntry], ...]:
    return _name_keys(load_glossary())
