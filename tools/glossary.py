"""The glossary tool: finance-concept questions (「无形资产是指什么？」) answered from the glossary.

    lookup("无形资产是指什么？")  ->  [GlossaryEntry, ...]
    answer_concept("什么是毛利率")  ->  ToolResult(kind="glossary")

Terms (or aliases) named in the question come first, longest match wins where names overlap; then BM25
over term, aliases and definition finds concepts the question describes without naming them.
"""

from __future__ import annotations

from functools import lru_cache

from rank_bm25 import BM25Okapi

from knowledge.glossary import GlossaryEntry, load_glossary, named_in
from tools.results import ToolResult
from understanding.tokenize import default_tokenizer

# BM25 matches scoring below this fraction of the best are noise, not further concepts.
RELATIVE_FLOOR = 0.5


@lru_cache(maxsize=1)
def _index():
    entries = load_glossary()
    tok = default_tokenizer()
    # Names count twice: a concept is found by what it is called before what its definition mentions.
    docs = [tok.tokens(" ".join((*e.names, *e.names, e.definition))) for e in entries]
    return entries, BM25Okapi(docs)


def lookup(question: str, k: int = 3) -> list[GlossaryEntry]:
    """Glossary entries for a concept question, best first. Concepts the question names win outright;
    otherwise BM25 over term, aliases and definition, keeping entries scoring at least half the best."""
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
    entries = lookup(question, k=k)
    if not entries:
        return ToolResult(kind="refusal", missing=["该金融概念"])
    return ToolResult(
        kind="glossary",
        values=[{"term": e.term, "definition": e.definition, "formula": e.formula} for e in entries],
        citations=[{"page": None, "text": e.text(), "source": "glossary", "term": e.term} for e in entries],
        text="\n".join(f"{e.term}：{e.text()}" for e in entries),
    )
