"""An open question about one report, answered from its text.

    answer_open_question(settings, store, "简要介绍公司的社会责任工作情况", company_code="600201", year=2020)

returns a ``ToolResult`` of kind ``passages``: the top passages (for the grounded LLM prompt), the
embedded-mode extractive answer in ``text``, and the citations (page, text) of the passages that
answer used. A question naming a topic the report has a heading for (核心竞争力, 审计意见 …;
knowledge/topics.toml) is answered with what the report wrote under that heading.
"""

from __future__ import annotations

import re

from tools.results import ToolResult
from tools.retrieval.extractive import open_answer
from tools.retrieval.hybrid import company_names, search
from tools.retrieval.query import strip_scope
from tools.retrieval.sections import Topic, read_section, topic_of, verdict
from understanding.tokenize import default_tokenizer
from understanding.vocabulary import vocabulary

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$")


def unprinted_terms(question: str, report_text: str, names=()) -> tuple[list[str], int]:
    """The question's Chinese content words (two characters or more, scope and stopwords left out) that the
    report's text never prints, and how many content words it has."""
    vocab = vocabulary()
    # The question's own words: not the glossary's report terms a retrieval query adds.
    terms = list(dict.fromkeys(t for t in default_tokenizer().tokens(strip_scope(question, names))
                               if _CJK_WORD.match(t) and t not in vocab.stopwords and t not in vocab.quantity_words))
    return [t for t in terms if t not in report_text], len(terms)


def off_the_report(question: str, report_text: str, names=()) -> list[str]:
    """The terms that make an open question one its report does not speak to: any unprinted term when it asks
    for a figure (「卖了多少吨钢材」: no sentence can give that figure), else unprinted terms making half its
    content words or more, of three or more (「列出全部员工的身份证号码」). Empty: answer it from the text."""
    absent, n = unprinted_terms(question, report_text, names)
    asks_figure = any(w in question for w in vocabulary().quantity_words)
    # (Half of one or two words is no evidence: 「为什么降这么多」 as a follow-up has no others.)
    if not absent or not (asks_figure or (n >= 3 and 2 * len(absent) >= n)):
        return []
    # 身份 within 身份证: the longer word names it.
    return [t for t in absent if not any(t != o and t in o for o in absent)]


def _section_answer(store, topic: Topic, company_code: str, year: int | None) -> ToolResult | None:
    """The report's own text under the topic's heading (its verdict first, where it has one)."""
    chunks = store.chunks(company_code, year)
    lines = [(c["page"], line) for c in chunks for line in c["text"].split("\n")]
    found = read_section(lines, topic)
    if found is None:
        return None
    text = verdict(topic, found.context) + found.text
    pages = "、".join(f"第{p}页" for p in found.pages)
    passage = {"page": found.pages[0], "text": found.text, "section": found.heading, "score": 1.0}
    return ToolResult(kind="passages", passages=[passage], text=f"{text}（{found.heading}，{pages}）",
                      citations=[{"page": p, "text": found.text if p == found.pages[0] else "", "section": found.heading}
                                 for p in found.pages])


def answer_open_question(settings, store, question: str, *, company_code: str | None, year: int | None = None,
                         company_label: str | None = None, expansion: str = "") -> ToolResult:
    if not company_code:
        return ToolResult(kind="refusal", missing=["问题所指的公司"])
    section = _section_answer(store, topic, company_code, year) if (topic := topic_of(question)) else None
    passages = search(settings, store, question, company_code=company_code, year=year, k=settings.retrieval.top_k,
                      expansion=expansion)
    if section is not None:
        # The section answers; the best other passages still go with it to an answer model's prompt.
        section.passages += [{"page": p.page, "text": p.text, "section": p.section, "score": p.score}
                             for p in passages[: settings.retrieval.top_k - 1]]
        return section
    label = f"{company_label or company_code}{f'{year}年' if year else ''}年报"
    if not passages:
        return ToolResult(kind="refusal", missing=[label])
    names = company_names(store, company_code)
    report_text = "".join(c["text"] for c in store.chunks(company_code, year))
    if absent := off_the_report(question, report_text, names):
        return ToolResult(kind="refusal", missing=[f"{label}中关于「{'、'.join(absent)}」"])
    answer = open_answer(question, passages, company_names=names)
    return ToolResult(
        kind="passages",
        passages=[{"page": p.page, "text": p.text, "section": p.section, "score": p.score} for p in passages],
        citations=answer.citations,
        text=answer.text or None,
    )
