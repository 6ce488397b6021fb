"""Latin-letter names of a company: its printed English name and its short name romanised.

Analysts write 「Sifang Technology 2019 net profit?」 or 「Ping An Bank NPL ratio」: the report prints an
English name (公司的外文名称, 「SQUARE TECHNOLOGY GROUP CO.,LTD」) that is often not the one people use,
who romanise the short name instead — the distinctive head in pinyin, the generic tail in English
(四方 + 科技 → sifang technology) or in pinyin (sifangkeji). The forms are computed when a company is
registered (pypinyin is imported then, not on the question path) and stored as aliases; matching
ignores case, spaces and punctuation.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from knowledge.fields import question_forms
from understanding.entities import peeled

# Legal forms at the end of an English name, dropped one after another (CO.,LTD, LIMITED, GROUP …).
_LEGAL_EN = ("coltd", "companylimited", "colimited", "limited", "ltd", "corporation", "corp", "incorporated", "inc",
             "company", "co", "group", "holdings", "jointstock", "sharesholding", "stock", "plc")
# A head shorter than this in letters is too common a syllable pair to name a company on its own.
MIN_HEAD_LETTERS = 5
# At most this many forms per name: the tail words' alternatives multiply.
MAX_FORMS = 24


def latin_key(text: str) -> str:
    """The comparison form: ASCII letters and digits, lower-cased."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def english_name_forms(english_name: str | None) -> set[str]:
    """SQUARE TECHNOLOGY GROUP CO.,LTD → squaretechnologygroup, squaretechnology."""
    key = latin_key(english_name or "")
    return ({key} if key else set()) | set(peeled(key, _LEGAL_EN, MIN_HEAD_LETTERS))


def preload() -> None:
    """Load pypinyin's dictionaries now (about half a second), e.g. in a parent before it forks workers."""
    import pypinyin  # noqa: F401


def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin  # deferred: its dictionaries load in ~0.3 s, needed only at registration

    return latin_key("".join(lazy_pinyin(text)))


def pinyin_forms(short_name: str | None) -> set[str]:
    """四方科技 → sifangkeji, sifangtechnology, sifangtech, sifang; 平安银行 → pinganyinhang, pinganbank."""
    name = re.sub(r"[^\u4e00-\u9fff]", "", short_name or "")
    if len(name) < 2:
        return set()
    words = question_forms()["company_words"]
    tails: list[list[str]] = []
    head = name
    while True:
        tail = next((w for w in sorted(words, key=len, reverse=True) if head.endswith(w) and len(head) > len(w)), None)
        if tail is None or len(head) - len(tail) < 2:
            break
        tails.insert(0, [latin_key(e) for e in words[tail]])
        head = head[: -len(tail)]
    forms = {_pinyin(name)}
    if head in words:  # 生物股份: the rest is a generic word, not a name (never "shengwu")
        return forms
    head_key = _pinyin(head)
    for combo in itertools.islice(itertools.product(*tails), MAX_FORMS):
        if "".join(combo):
            forms.add(head_key + "".join(combo))
    if len(head_key) >= MIN_HEAD_LETTERS and head != name:
        forms.add(head_key)  # sifang alone
    return {f for f in forms if len(f) >= MIN_HEAD_LETTERS}


def latin_aliases(chinese_names: Iterable[str | None], english_name: str | None = None) -> tuple[str, ...]:
    """Every Latin-letter alias of a company (its short name and name cores romanised, its English name),
    sorted, so that the registry's aliases are stable."""
    forms = english_name_forms(english_name)
    for name in chinese_names:
        forms |= pinyin_forms(name)
    return tuple(sorted(forms))
