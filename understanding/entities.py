"""Company entity linking: full names, short names, stock codes and aliases.

An Aho-Corasick automaton over every surface form of every company in the store's registry finds the
longest mentions in one pass; it is cached per database and rebuilt when the registry changes. When no
form matches, a fuzzy pass over character bigrams proposes the closest name. A surface form shared by
several companies is reported as ambiguous rather than guessed.
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
import unicodedata
from dataclasses import dataclass, field

import ahocorasick
from sqlalchemy import func, select

from knowledge.fields import KNOWLEDGE_DIR
from knowledge.store import Company, Store

_KNOWLEDGE = tomllib.loads((KNOWLEDGE_DIR / "entities.toml").read_text(encoding="utf-8"))
_SUFFIXES = tuple(_KNOWLEDGE["legal_suffixes"])
_GENERIC = tuple(sorted(_KNOWLEDGE["generic_words"], key=len, reverse=True))
_PAREN = re.compile(r"\((?:" + "|".join(map(re.escape, _KNOWLEDGE["parentheticals"])) + r")\)")
_MIN_CORE = int(_KNOWLEDGE["min_core_length"])
_ABBREVIATIONS: dict[str, str] = dict(_KNOWLEDGE.get("abbreviations", {}))
_ST = re.compile(r"^\*?ST")
# What an unknown company mention looks like: a name ending in a legal form or a typical name word.
_UNKNOWN = [re.compile(r"([\u4e00-\u9fa5A-Za-z()]{2,24}?(?:" + "|".join(group) + "))")
            for group in _KNOWLEDGE["unknown_endings"]]
_LEADING_NOISE = re.compile("^(?:" + "|".join(sorted(map(re.escape, _KNOWLEDGE["leading_words"]), key=len, reverse=True)) + ")+")


def _unknown(text: str) -> str | None:
    for pattern in _UNKNOWN:
        if m := pattern.search(text):
            name = _LEADING_NOISE.sub("", m.group(1))
            if len(name) >= 3:
                return name
    return None


def normalize(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


# 600201.SH, SH600201, sz.000001, 000001.SZ: the exchange tag around a six-digit code says nothing the
# code does not; dropped, the code is a surface form like any other.
_TAGGED_CODE = re.compile(r"(?<![0-9A-Za-z])(?:(?:SH|SZ|SS|BJ)[.:：]?\s*)?(\d{6})(?:\s*\.\s*(?:SH|SZ|SS|BJ))?(?![0-9A-Za-z])",
                          re.IGNORECASE)
# 「第4季度」, 「Q4」, 「四季度」, 「第四季」: one spelling, 第四季度, which the dictionary's quarterly fields use.
_QUARTER = re.compile(r"(?:第\s*([1-4一二三四])\s*季度?|(?<![A-Za-z])Q([1-4])(?![0-9])|(?<![第一二三四0-9])([1-4一二三四])季度)",
                      re.IGNORECASE)
_QUARTER_NAMES = {"1": "一", "2": "二", "3": "三", "4": "四", "一": "一", "二": "二", "三": "三", "四": "四"}
# 「603339 2019 营收」: once whitespace is gone the code and the year would read as one number.
_SPACED_NUMBERS = re.compile(r"(?<=\d)\s+(?=\d)")


def canonical_question(question: str) -> str:
    """The question as the dictionaries read it: NFKC, exchange tags dropped, numbers that only
    whitespace separated kept apart (by 、), then no whitespace."""
    text = unicodedata.normalize("NFKC", question or "")
    text = _TAGGED_CODE.sub(lambda m: m.group(1), text)
    text = _QUARTER.sub(lambda m: f"第{_QUARTER_NAMES[m.group(1) or m.group(2) or m.group(3)]}季度", text)
    return normalize(_SPACED_NUMBERS.sub("、", text))


def is_code_or_latin(mention: str | None) -> bool:
    """A mention an answer should not echo (「6002012020年」): a stock code or a romanised name."""
    return bool(mention) and mention.isascii()


def squeeze(text: str, drop: str) -> tuple[str, list[int]]:
    """``text`` without the characters in ``drop``, and for each kept character its original index —
    matching on the squeezed text tolerates 的 or brackets the dictionary spells differently."""
    kept = [(i, ch) for i, ch in enumerate(text) if ch not in drop]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


BRACKETS = "()[]【】"


# Latin letters are matched without case (Sifang, SIFANG); the fold keeps every index in place.
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Latin aliases (understanding.romanized) are letters only: BIO-TECHNOLOGY, Technology's and Co. & Ltd are
# matched without these. (Commas and dots stay: dropping them would join 123,456 into a stock code.)
_LATIN_PUNCTUATION = "'’&-"


def fold(text: str) -> str:
    return text.translate(_ASCII_FOLD)


def surface_forms(company: Company) -> set[str]:
    """Every way a question may name the company."""
    forms: set[str] = set()
    for name in (company.full_name, company.short_name, *company.aliases):
        if not name:
            continue
        name = normalize(name)
        forms.add(name)
        bare = _PAREN.sub("", name)
        forms.add(bare)
        forms.add(_ST.sub("", name))
        for base in (name, bare):
            for suffix in _SUFFIXES:
                if base.endswith(suffix) and len(base) - len(suffix) >= 4:
                    forms.add(base[: -len(suffix)])
                    break
    forms.add(company.code)
    # Registries write 福建龙溪轴承集团股份有限公司 where questions write 福建龙溪轴承(集团)…: match bracket-free.
    return {fold(squeeze(f, BRACKETS + _LATIN_PUNCTUATION)[0]) for f in forms if len(f) >= 2}


def core_forms(company: Company) -> set[str]:
    """Weaker forms: the full name without its legal form and generic trailing words (金宇生物)."""
    name = squeeze(_PAREN.sub("", normalize(company.full_name)), BRACKETS)[0]
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return set(peeled(name, _GENERIC, _MIN_CORE))


def abbreviated_forms(company: Company) -> set[str]:
    """The short forms people type for a four-character short name (平银 for 平安银行; entities.toml)."""
    short = normalize(company.short_name or "")
    return {short[0] + form for ending, form in _ABBREVIATIONS.items()
            if len(short) == 2 + len(ending) and short.endswith(ending)}


def peeled(text: str, endings, min_left: int) -> list[str]:
    """``text`` with each of ``endings`` removed from its end, one after another, while at least
    ``min_left`` characters stay: every form on the way (金宇生物技术 → 金宇生物; squaretechnologygroup →
    squaretechnology)."""
    forms = []
    while text and (word := next((w for w in endings if text.endswith(w) and len(text) - len(w) >= min_left), None)):
        text = text[: -len(word)]
        forms.append(text)
    return forms


@dataclass
class CompanyMatch:
    company: Company | None
    mention: str
    start: int
    end: int
    candidates: list[Company] = field(default_factory=list)  # >1 when ambiguous
    fuzzy: bool = False


class CompanyIndex:
    def __init__(self, companies: list[Company]):
        self.companies = {c.code: c for c in companies}
        by_form: dict[str, set[str]] = {}
        for c in companies:
            for form in surface_forms(c):
                by_form.setdefault(form, set()).add(c.code)
        # Cores are added only where unambiguous: a shared core links nobody rather than misleading.
        cores: dict[str, set[str]] = {}
        for c in companies:
            for form in core_forms(c) | abbreviated_forms(c):
                cores.setdefault(form, set()).add(c.code)
        for form, codes in cores.items():
            if len(codes) == 1 and form not in by_form:
                by_form[form] = codes
        self.by_form = by_form
        self.automaton = ahocorasick.Automaton()
        for form, codes in by_form.items():
            self.automaton.add_word(form, (form, tuple(sorted(codes))))
        if by_form:
            self.automaton.make_automaton()
        # Fuzzy matching compares names without their legal form: 股份有限公司 alone would make any two
        # company names look alike.
        self._bigrams = {c.code: [(_bigrams(_strip_legal(n)), n) for n in {normalize(c.full_name), normalize(c.short_name or "")} if n]
                         for c in companies}

    def find(self, text: str) -> list[CompanyMatch]:
        """Longest non-overlapping mentions, in the order written."""
        text = normalize(text)
        if not self.by_form:
            return []
        squeezed, where = squeeze(fold(text), BRACKETS + _LATIN_PUNCTUATION)
        hits = []
        for end, (form, codes) in self.automaton.iter(squeezed):
            start = end - len(form) + 1
            if form.isdigit() and (_digit(squeezed, start - 1) or _digit(squeezed, end + 1)):
                continue  # a code inside a longer number (an amount, a phone number)
            # Back to positions in the unsqueezed text (a closing bracket after the name belongs to it).
            o_start, o_end = where[start], where[end] + 1
            while o_end < len(text) and text[o_end] in BRACKETS and text[o_end - 1] not in BRACKETS and \
                    text.count("(", o_start, o_end) > text.count(")", o_start, o_end):
                o_end += 1
            hits.append((o_start, o_end, text[o_start:o_end], codes))
        hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken = [False] * len(text)
        chosen = []
        for start, end, form, codes in hits:
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            cands = [self.companies[c] for c in codes]
            chosen.append(CompanyMatch(cands[0] if len(cands) == 1 else None, form, start, end, cands))
        chosen.sort(key=lambda m: m.start)
        # The same company named twice (full name and short name) is one mention.
        out, seen = [], set()
        for m in chosen:
            key = m.company.code if m.company else m.mention
            if key not in seen:
                seen.add(key)
                out.append(m)
        return out

    def fuzzy(self, text: str, threshold: float = 0.75) -> CompanyMatch | None:
        """The company whose name best covers a span of the question (typos, dropped characters)."""
        text = normalize(text)
        mention = _unknown(text)
        if not mention:
            return None
        grams = _bigrams(_strip_legal(mention))
        best, best_score = None, 0.0
        for code, names in self._bigrams.items():
            for g, _name in names:
                if not g:
                    continue
                score = 2 * len(grams & g) / (len(grams) + len(g))
                if score > best_score:
                    best, best_score = code, score
        if best and best_score >= threshold:
            start = text.find(mention)
            return CompanyMatch(self.companies[best], mention, start, start + len(mention), fuzzy=True)
        return None

    def unknown_mention(self, text: str) -> str | None:
        """The words that look like a company name nobody in the registry has (for the refusal)."""
        return _unknown(normalize(text))


def _strip_legal(name: str) -> str:
    name = squeeze(name, BRACKETS)[0]
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _digit(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isdigit()


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)}


_CACHE: dict[str, tuple[tuple, CompanyIndex]] = {}
_CHECKED: dict[str, float] = {}
_LOCK = threading.Lock()
# The registry fingerprint scans the companies table; checking it at most once a second keeps it off
# the per-question path (a company added by an import is linked within a second).
SIGNATURE_TTL_S = 1.0


def registry_signature(store: Store) -> tuple:
    """Cheap fingerprint of the registry: any insert, rename or new alias changes it."""
    t = store.t["companies"]
    q = select(func.count(), func.sum(func.length(t.c.full_name) + func.length(func.coalesce(t.c.short_name, ""))
                                      + func.length(t.c.aliases)), func.max(t.c.code))
    with store.engine.connect() as c:
        return tuple(c.execute(q).one())


def company_index(store: Store) -> CompanyIndex:
    cached = _CACHE.get(store.url)
    now = time.monotonic()
    if cached and now - _CHECKED.get(store.url, 0.0) < SIGNATURE_TTL_S:
        return cached[1]
    sig = registry_signature(store)
    _CHECKED[store.url] = now
    if cached and cached[0] == sig:
        return cached[1]
    with _LOCK:
        cached = _CACHE.get(store.url)
        if cached and cached[0] == sig:
            return cached[1]
        index = CompanyIndex(store.companies())
        _CACHE[store.url] = (sig, index)
        return index
