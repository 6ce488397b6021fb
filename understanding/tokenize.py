"""Chinese tokenisation for BM25: jieba with a domain dictionary, no file downloads.

The domain dictionary is every surface form of the field dictionary, every glossary term and alias,
the report-section vocabulary of ``retrieval.toml`` and the names of the companies in the store, so
「归属于上市公司股东的净利润」 or 「金宇生物技术股份有限公司」 stay whole tokens. Search mode
(``cut_for_search``) also emits the dictionary words inside a long word, so a question that says
「净利润」 still meets a passage that says 「归属于上市公司股东的净利润」.

Each :class:`Tokenizer` owns a private ``jieba.Tokenizer``: adding words never changes the process-wide
jieba that other modules may use.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import jieba

from knowledge.fields import field_dictionary
from knowledge.glossary import load_glossary
from understanding.vocabulary import vocabulary

jieba.setLogLevel(logging.WARNING)

# A token must contain a letter, a digit or a CJK character to count.
_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")


class Tokenizer:
    def __init__(self, words: Iterable[str] = ()):
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._stop = vocabulary().stopwords
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self.add_words(words)

    def add_words(self, words: Iterable[str]) -> None:
        with self._lock:
            for word in words:
                word = normalize(word)
                if len(word) >= 2 and word not in self._known and " " not in word:
                    self._known.add(word)
                    self._jieba.add_word(word)

    def tokens(self, text: str) -> list[str]:
        return [
            t for t in self._jieba.cut_for_search(normalize(text))
            if t not in self._stop and _CONTENT.search(t)
        ]


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits fold), lower case, whitespace collapsed to one space."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip().lower()


def domain_words() -> list[str]:
    words: list[str] = []
    for f in field_dictionary():
        words.extend(f.surface_forms)
    for entry in load_glossary():
        words.append(entry.term)
        words.extend(entry.aliases)
        words.extend(entry.report_terms)
    words.extend(vocabulary().extra_words)
    return words


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    """The process's tokenizer with the domain dictionary (company names are added per store)."""
    return Tokenizer(domain_words())


def company_words(store) -> list[str]:
    words: list[str] = []
    for c in store.companies():
        words.extend(w for w in (c.full_name, c.short_name, *c.aliases) if w)
    return words


_TAUGHT: set[str] = set()


def tokenizer_for(store) -> Tokenizer:
    """The default tokenizer, taught the store's company names the first time it meets the store
    (later companies are taught one by one, see :meth:`Tokenizer.add_words`)."""
    tok = default_tokenizer()
    if store.url not in _TAUGHT:
        tok.add_words(company_words(store))
        _TAUGHT.add(store.url)
    return tok
