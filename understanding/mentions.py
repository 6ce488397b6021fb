"""Field and formula mentions in a question: canonical names, synonyms, abbreviations, formula names.

One Aho-Corasick automaton over every surface form of the field dictionary and the formula table;
longest non-overlapping matches win, so 营业利润率 is the formula, not the field 营业利润. A mention
that qualifier words next to it make a more specific quantity (扣非营业利润, 营收同比增长) is found by
:func:`specific_quantities`, so it is answered as that quantity or refused naming it, never as the
nearer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from knowledge.fields import field_dictionary, normalize_label
from knowledge.formulas import formula_table, get_formula
from understanding.entities import squeeze
from understanding.intent import intent_rules

# 的 is dropped on both sides: 研发人员占职工人数的比例 is the formula 研发人员占职工人数比例.
_FILLER = "的"


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
        form = squeeze(form.upper(), _FILLER)[0]  # the question is matched upper-cased (EPS, net profit)
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


@dataclass
class Specific:
    """A mention the words next to it make another quantity: 扣非 + 营业利润, 营收 + 同比增长."""
    words: str  # what the question asks for, as it says it (answers name it)
    covers: list[Mention]  # the qualified mention and any inside its qualifier (非经常性损益 in 扣除非经常性损益后的…)
    formula: str | None = None  # the growth formula that answers it, when formulas.toml has one


@lru_cache(maxsize=1)
def _words_before() -> tuple[str, ...]:
    """The qualifiers written before a quantity, longest first (so 扣除非经常性损益后 wins over 扣除)."""
    return tuple(sorted(intent_rules()["qualifiers"]["before"], key=len, reverse=True))


@lru_cache(maxsize=4)
def _words_after(lists: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(word, list name) of the qualifier lists written after a quantity, longest word first."""
    q = intent_rules()["qualifiers"]
    return tuple(sorted(((w, n) for n in lists for w in q[n]), key=lambda wn: -len(wn[0])))


def _before(text: str, m: Mention) -> int | None:
    """Where a qualifier written before ``m`` starts (扣非营业利润, 母公司的营业收入), or None. The
    longest match may have taken the qualifier's last characters: 母|公司研发人员数量 is 母公司 +
    研发人员数量 when the rest of the mention still names the same field."""
    words = _words_before()
    for k in range(len(m.text)):
        if k and (m.kind != "field" or _field_of(m.text[k:]) != m.name):
            continue
        head = text[: m.start + k]
        head = head[:-1] if not k and head.endswith(_FILLER) else head
        word = next((w for w in words if head.endswith(w) and len(w) > k), None)
        if word is not None:
            return len(head) - len(word)
    return None


def _field_of(words: str) -> str | None:
    hit = field_dictionary().resolve(words)
    return hit.name if hit else None


def _after(text: str, m: Mention, lists: tuple[str, ...]) -> tuple[str, int] | None:
    """The list a word written right after ``m`` is in (营收同比增长, 毛利率的变化), and where it ends."""
    start = m.end + (text[m.end:].startswith(_FILLER))
    for word, name in _words_after(lists):
        if text.startswith(word, start):
            return name, start + len(word)
    return None


def _surface_forms(m: Mention) -> tuple[str, ...]:
    if m.kind == "formula":
        f = formula_table()[m.name]
        return (f.name, *f.synonyms)
    return field_dictionary()[m.name].surface_forms


def growth_formula(m: Mention) -> str | None:
    """The formula for the growth of the mentioned field: any of its surface forms + 增长率 naming one."""
    if m.kind != "field":
        return None
    suffix = intent_rules()["qualifiers"]["growth_formula_suffix"]
    for form in (m.text, *_surface_forms(m)):
        if (f := get_formula(form + suffix)) is not None:
            return f.name
    return None


def specific_quantities(text: str, mentions: list[Mention], *, growth: bool = True) -> list[Specific]:
    """The mentions of ``mentions`` (found in ``text``) that qualifier words make a quantity the
    dictionary does not name. ``growth=False`` when the question compares years itself, so a change
    word is no other quantity."""
    out: list[Specific] = []
    for m in mentions:
        if m.kind == "field" and field_dictionary()[m.name].unit == "text":
            continue  # not a quantity: 境内会计师事务所 is the 会计师事务所
        if (start := _before(text, m)) is not None:
            inside = [o for o in mentions if o is not m and start <= o.start and o.end <= m.start]
            out.append(Specific(text[start:m.end], [*inside, m]))
        elif (hit := _after(text, m, ("growth", "after") if growth else ("after",))) is not None:
            name, end = hit
            out.append(Specific(text[m.start:end], [m], growth_formula(m) if name == "growth" else None))
    return out


def plainly_named(mentions: list[Mention], specific: list[Specific]) -> set[str]:
    """The names some mention stands for as written (a field asked for twice, once qualified, stays)."""
    covered = {id(m) for s in specific for m in s.covers}
    return {m.name for m in mentions if id(m) not in covered}


def qualified_follow_up(words: str, said: list[str]) -> str | None:
    """「扣非的呢？」 or 「那同比增长呢？」: ``words`` (the follow-up without its 那 and 呢) only qualify
    what the previous turn asked, ``said`` as it said it. The question they make together (扣非净利润,
    营收同比增长), so it is understood as that, not as the previous figure again; or None."""
    q = intent_rules()["qualifiers"]
    if words.removesuffix(_FILLER) in q["before"]:
        return "，".join(words.removesuffix(_FILLER) + s for s in said)
    if any(words.startswith(w) for w in q["growth"] + q["after"]):
        return "，".join(s + words for s in said)
    return None
