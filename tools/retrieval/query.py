"""From a question to BM25 query tokens.

The scope already pins company and year, so their mentions are removed (they would only match the
cover page). Concepts the question names get the words reports use for them, from the glossary's
``report_terms`` (「客户集中度」 → 「前五名客户」「占年度销售总额」): reports rarely use the analyst's word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from knowledge.glossary import named_in

_YEAR = re.compile(r"(?:19|20)\d{2}\s*(?:年度|年)?")
# How people shorten a full company name: drop the legal form and the trailing industry words.
_LEGAL_FORM = re.compile(r"(?:集团)?(?:股份)?有限(?:责任)?公司$|股份公司$")


def company_mentions(names: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for name in names:
        if not name:
            continue
        out.add(name)
        short = _LEGAL_FORM.sub("", name)
        if len(short) >= 2:
            out.add(short)
        # 「金宇生物技术股份有限公司」 is asked about as 「金宇生物」: the name minus 技术/科技/… too.
        shorter = re.sub(r"(?:技术|科技|集团|控股|实业|发展|工业)+$", "", short)
        if len(shorter) >= 2:
            out.add(shorter)
    return sorted(out, key=len, reverse=True)


def strip_scope(question: str, company_names: Iterable[str] = ()) -> str:
    text = question
    for name in company_mentions(company_names):
        text = text.replace(name, " ")
    return _YEAR.sub(" ", text)


def query_tokens(tokenizer, question: str, *, company_names: Iterable[str] = (), expansion: str = "") -> list[str]:
    """Tokens of the question without its scope words, plus glossary report terms and ``expansion``
    (e.g. a HyDE passage)."""
    text = strip_scope(question, company_names)
    tokens = tokenizer.tokens(text)
    for entry in named_in(text):
        tokens.extend(tokenizer.tokens(" ".join(entry.report_terms)))
    if expansion:
        tokens.extend(tokenizer.tokens(strip_scope(expansion, company_names)))
    return tokens
