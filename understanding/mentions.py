"""Field and formula mentions in a question: canonical names, synonyms, abbreviations, formula names.

One Aho-Corasick automaton over every surface form of the field dictionary and the formula table;
longest non-overlapping matches win, so 营业利润率 is the formula, not the field 营业利润.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from knowledge.fields import field_dictionary, normalize_label
from understanding.entities import squeeze

# 的 is dropped on both sides: 研发人员占职工人数的比例 is the formula 研发人员占职工人数比例.
_FILLER = "的"
from knowledge.formulas import formula_table


@dataclass
class Mention:
    kind: str  # field | formula
    name: str  # canonical field or formula name
    text: str  # the words the user used
    start: int
    end: int


@lru_cache(maxsize=1)
def _automaton():
    fields = field_dictionary()
    forms: dict[str, tuple[str, str]] = {}
    for form, name in fields.surface_forms().items():
        form = squeeze(form, _FILLER)[0]
        if len(form) >= 2:
            forms.setdefault(form, ("field", name))
    # Formulas override a field form of the same spelling (毛利率 is computed, not a column).
    for f in formula_table().values():
        for form in (f.name, *f.synonyms):
            forms[squeeze(normalize_label(form).upper(), _FILLER)[0]] = ("formula", f.name)
    auto = ahocorasick.Automaton()
    for form, value in forms.items():
        auto.add_word(form, (form, *value))
    auto.make_automaton()
    return auto


def find_mentions(text: str) -> list[Mention]:
    """``text`` must already be normalised (NFKC, no whitespace); masked spans should be blanked."""
    hits = []
    squeezed, where = squeeze(text.upper(), _FILLER)  # upper: ROE / roe
    for end, (form, kind, name) in _automaton().iter(squeezed):
        start = end - len(form) + 1
        hits.append((where[start], where[end] + 1, kind, name))
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    taken = [False] * len(text)
    out: list[Mention] = []
    for start, end, kind, name in hits:
        if any(taken[start:end]):
            continue
        for i in range(start, end):
            taken[i] = True
        out.append(Mention(kind, name, text[start:end], start, end))
    out.sort(key=lambda m: m.start)
    return out
