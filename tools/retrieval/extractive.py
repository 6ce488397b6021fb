"""Embedded-mode answers, built only from retrieved text (never a canned sentence).

Open question: the sentences of the top passages that share the most (IDF-weighted) query terms,
up to a length budget, put back in document order, each passage used cited with its page.
Concept question: the glossary definition(s) of the concept(s) the question asks about.

Both return a :class:`StructuredAnswer`; the graph's answer node renders it (or hands the same
passages to an LLM with a grounded prompt when an endpoint is configured).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from tools.retrieval.passage import Passage
from tools.retrieval.query import query_tokens
from understanding.tokenize import default_tokenizer

# Sentence ends; a passage line break also ends a sentence (headings, list items).
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")
# Check-box markup of the CSRC templates carries no content: 「√适用 □不适用」
_CHECKBOX = re.compile(r"[√□]\s*(?:不)?适用")
# A bare heading (「十七、积极履行社会责任的工作情况」) names the topic; the answer is what follows it.
_HEADING = re.compile(r"^(?:第[一二三四五六七八九十]+节|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）])")
MAX_HEADING_CHARS = 30
MIN_SENTENCE_CHARS = 8
RELATIVE_PASSAGE_SCORE = 0.5  # a passage joins the answer when it scores at least this share of the best
RANK_DECAY = 0.5  # weight of the r-th passage (from 0): 1 / (1 + RANK_DECAY * r)


@dataclass
class StructuredAnswer:
    text: str
    citations: list[dict] = field(default_factory=list)  # [{"page": int | None, "text": str, ...}]
    kind: str = "open"  # open | concept

    def as_dict(self) -> dict:
        return {"text": self.text, "citations": self.citations, "kind": self.kind}


def sentences(text: str) -> list[str]:
    clean = _CHECKBOX.sub(" ", text)
    out = []
    for m in _SENTENCE.finditer(clean):
        s = re.sub(r"\s+", " ", m.group()).strip()
        if len(s) >= MIN_SENTENCE_CHARS and not (len(s) <= MAX_HEADING_CHARS and _HEADING.match(s)):
            out.append(s)
    return out


def open_answer(question: str, passages: list[Passage], *, company_names=(), max_chars: int = 500,
                max_passages: int = 3, tokenizer=None) -> StructuredAnswer:
    """The most relevant sentences of the top ``max_passages`` passages, in document order."""
    top = passages[:max_passages]
    if not top:
        return StructuredAnswer("", [])
    # Passages far behind the best one (by retrieval score) only add noise to the answer.
    if top[0].score > 0:
        top = [p for p in top if p.score >= RELATIVE_PASSAGE_SCORE * top[0].score]
    tok = tokenizer or default_tokenizer()
    wanted = set(query_tokens(tok, question, company_names=company_names))
    # (passage rank, position, sentence, its tokens)
    cands = [(r, i, s, set(tok.tokens(s))) for r, p in enumerate(top) for i, s in enumerate(sentences(p.text))]
    if not cands:
        return StructuredAnswer("", [])
    df: dict[str, int] = {}
    for *_, toks in cands:
        for t in toks & wanted:
            df[t] = df.get(t, 0) + 1
    n = len(cands)

    def score(c) -> float:
        rank, _, s, toks = c
        overlap = sum(math.log(1 + n / df[t]) for t in toks & wanted)
        # Long table rows do not win by sheer length; a lower-ranked passage must match clearly better
        # than the top one to displace its sentences.
        return overlap / math.sqrt(max(len(toks), 1)) / (1 + RANK_DECAY * rank)

    ranked = sorted(cands, key=score, reverse=True)
    if score(ranked[0]) < 0.05:  # nothing shares a term: quote the best passage's opening instead
        ranked = [c for c in cands if c[0] == 0]
    else:  # a sentence sharing no term with the question is filler, however much room is left
        ranked = [c for c in ranked if score(c) > 0]
    chosen, used = [], 0
    for c in ranked:
        if used and used + len(c[2]) > max_chars:
            continue
        chosen.append(c)
        used += len(c[2])
        if used >= max_chars:
            break
    chosen.sort(key=lambda c: (top[c[0]].page, top[c[0]].chunk_id, c[1]))
    text = "".join(_terminated(c[2]) for c in chosen)
    cited = sorted({c[0] for c in chosen}, key=lambda r: (top[r].page, top[r].chunk_id))
    citations = [{"page": top[r].page, "text": top[r].text, "section": top[r].section} for r in cited]
    return StructuredAnswer(text, citations, "open")


def _terminated(s: str) -> str:
    return s if s.endswith(("。", "！", "？", "；", "!", "?", ";")) else s + "。"
