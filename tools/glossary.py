"""The finance glossary (``agent/knowledge/glossary.toml``): concept questions and query expansion.

``lookup(question)`` answers 「无形资产是指什么？」: terms (or aliases) named in the question come first,
longest match wins where names overlap; then BM25 over term, aliases and definition finds concepts the
question describes without naming them. Each entry's ``report_terms`` are the words annual reports use
for the concept; retrieval adds them to a question that names it (客户集中度 → 前五名客户销售额).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agent.fields import KNOWLEDGE_DIR, normalize_label

GLOSSARY_PATH = KNOWLEDGE_DIR / "glossary.toml"
# BM25 matches scoring below this fraction of the best are noise, not further concepts.
RELATIVE_FLOOR = 0.5


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


@lru_cache(maxsize=1)
def _index():
    from rank_bm25 import BM25Okapi

    from tools.retrieval.tokenize import default_tokenizer

    entries = load_glossary()
    tok = default_tokenizer()
    # Names count twice: a concept is found by what it is called before what its definition mentions.
    docs = [tok.tokens(" ".join((*e.names, *e.names, e.definition))) for e in entries]
    return entries, BM25Okapi(docs)


def lookup(question: str, k: int = 3) -> list[GlossaryEntry]:
    """Glossary entries for a concept question, best first. Concepts the question names win outright;
    otherwise BM25 over term, aliases and definition, keeping entries scoring at least half the best."""
    from tools.retrieval.tokenize import default_tokenizer

    named = named_in(question)
    if named:
        return named[:k]
    entries, bm25 = _index()
    query = default_tokenizer().tokens(question)
    if not query:
        return []
    scores = bm25.get_scores(query)
    ranked = sorted(range(len(entries)), key=lambda i: -scores[i])[:k]
    best = scores[ranked[0]] if ranked else 0.0
    return [entries[i] for i in ranked if scores[i] > 0 and scores[i] >= RELATIVE_FLOOR * best]


def answer_concept(question: str, k: int = 2):
    """What the graph's ``glossary`` node calls: a ``ToolResult`` of kind ``glossary`` whose ``values``
    are the entries (term, definition, formula), ``text`` the embedded answer, ``citations`` the
    definitions (no page: the source is the glossary, not a report)."""
    from tools.results import ToolResult
    from tools.retrieval.extractive import concept_answer

    entries = lookup(question, k=k)
    if not entries:
        return ToolResult(kind="refusal", missing=["该金融概念"])
    answer = concept_answer(question, entries=entries)
    return ToolResult(
        kind="glossary",
        values=[{"term": e.term, "definition": e.definition, "formula": e.formula} for e in entries],
        citations=answer.citations,
        text=answer.text,
    )
