"""Field and formula mentions in a question: canonical names, synonyms, abbreviations, formula names.

One Aho-Corasick automaton over every surface form of the field dictionary and the formula table;
longest non-overlapping matches win, so 营业利润率 is the formula, not the field 营业利润. A mention
that qualifier words next to it make a more specific quantity (扣非营业利润, 营收同比增长) is found by
:func:`specific_quantities`, so it is answered as that quantity or refused naming it, never as the
nearer one.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from knowledge.fields import field_dictionary, normalize_label, question_forms
from knowledge.formulas import POINTS_SUFFIX, change_formula, formula_table, get_formula
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
    # Words that contain a field's name but are no quantity (高级管理人员 is not 管理人员): matched, then dropped.
    for form in question_forms()["not_quantities"]["words"]:
        forms[squeeze(normalize_label(form).upper(), _FILLER)[0]] = ("none", form)
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
        if kind != "none":
            out.append(Mention(kind, name, text[start:end], start, end))
    out.sort(key=lambda m: m.start)
    return out


@dataclass
class Specific:
    """A mention the words next to it make another quantity: 扣非 + 营业利润, 营收 + 同比增长."""
    words: str  # what the question asks for, as it says it (answers name it)
    covers: list[Mention]  # the qualified mention and any inside its qualifier (非经常性损益 in 扣除非经常性损益后的…)
    formula: str | None = None  # the growth formula that answers it, when formulas.toml has one
    field: str | None = None  # the field the qualified words name (第四季度 + 经营现金流: 第四季度经营活动产生的现金流量净额)
    excluded: str | None = None  # what a parenthetical after the mention leaves out (（不含平安理财）: 平安理财)


@lru_cache(maxsize=1)
def _words_before() -> tuple[str, ...]:
    """The qualifiers written before a quantity, longest first (so 扣除非经常性损益后 wins over 扣除)."""
    return tuple(sorted(intent_rules()["qualifiers"]["before"], key=len, reverse=True))


@lru_cache(maxsize=8)
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


def _qualified_field(qualifier: str, m: Mention) -> str | None:
    """The dictionary field that the qualifier and the mentioned field's canonical name spell together
    (第四季度 + 经营活动产生的现金流量净额), if one does: 「第四季度经营现金流」 is that field, not a refusal."""
    if m.kind != "field":
        return None
    qualifier = qualifier.removesuffix(_FILLER)
    for words in (qualifier + m.name, qualifier + m.text):
        if (name := _field_of(words)) is not None and name != m.name:
            return name
    return None


def _qualified_growth(qualifier: str, m: Mention) -> str | None:
    """「扣非净利润增长率」: the longest match is 净利润增长率 after 扣非; the growth rate of the field the
    qualifier and the formula's own field spell (扣除非经常性损益后的净利润增长率)."""
    suffix = intent_rules()["qualifiers"]["growth_formula_suffix"]
    if m.kind != "formula" or not m.name.endswith(suffix):
        return None
    base = _field_of(m.name.removesuffix(suffix))
    field = _field_of(qualifier.removesuffix(_FILLER) + base) if base else None
    return change_formula(field, amount=False) if field and field != base else None


def _field_of(words: str) -> str | None:
    hit = field_dictionary().resolve(words)
    return hit.name if hit else None


def _after(text: str, m: Mention, lists: tuple[str, ...]) -> tuple[str, int] | None:
    """The list a word written right after ``m`` is in (营收同比增长, 毛利率的变化), and where it ends."""
    start = m.end + (text[m.end:].startswith(_FILLER))
    for word, name in _words_after(lists):
        if text.startswith(word, start):
            return name, start + len(word)
    # 「营业收入比2018年减少了多少」: a change against a year written out.
    if "growth" in lists and (against := _AGAINST_YEAR.match(text, start)):
        for word, name in _words_after(("growth",)):
            if text.startswith(word, against.end()):
                return name, against.end() + len(word)
    return None


_AGAINST_YEAR = re.compile(r"(?:比|较|相比|相较于?|与)(?:\d{2}|\d{4})年(?:度|末|底)?(?:相比|比)?")
# 「（不含平安理财）」 written right after a quantity (the question is NFKC-folded: half-width brackets).
_EXCLUSION = re.compile(r"\((?:不含|不包括|剔除|除去)([^()]{1,30})\)")


def excluded_after(text: str, m: Mention) -> tuple[str, int] | None:
    """What a parenthetical right after ``m`` leaves out (「在职员工人数（不含平安理财）」: 平安理财), and where the
    parenthetical ends; or None."""
    found = _EXCLUSION.match(text, m.end)
    return (found[1], found.end()) if found else None


def _surface_forms(m: Mention) -> tuple[str, ...]:
    if m.kind == "formula":
        f = formula_table()[m.name]
        return (f.name, *f.synonyms)
    return field_dictionary()[m.name].surface_forms


def growth_formula(m: Mention, *, amount: bool = False) -> str | None:
    """The formula for the change of the mentioned field: a listed growth formula named by any of its
    surface forms + 增长率, else the growth rate every numeric field has; with ``amount``, its change
    (货币资金变动额)."""
    if m.kind == "formula":  # 「毛利率同比变化」: the rate's change in points
        f = get_formula(m.name + POINTS_SUFFIX)
        return f.name if f is not None else None  # 增加了多少 of a rate is its change in points too
    if not amount:
        suffix = intent_rules()["qualifiers"]["growth_formula_suffix"]
        for form in (m.text, *_surface_forms(m)):
            if (f := formula_table().get(form + suffix) or _listed(form + suffix)) is not None:
                return f.name
    return change_formula(m.name, amount=amount)


def _listed(name: str):
    return next((f for f in formula_table().values() if name in f.synonyms), None)


# 「增加了多少元」, 「减少了多少亿元」: the amount of the change is asked.
_AMOUNT_ASKED = re.compile(r"^[^，,。？?]{0,6}?(?:多少|几)个?(?:(?:亿|万|千|百万)元?|元)")


def asks_amount(word: str, rest: str) -> bool:
    """Whether a growth word (and the text after it) asks for the change itself, not its rate."""
    q = intent_rules()["qualifiers"]
    amount_words, how_much = tuple(q["change_amount"]), tuple(q["change_amount_with_how_much"])
    word = _AGAINST_YEAR.sub("", word, count=1) if _AGAINST_YEAR.match(word) else word  # 比23年少了
    if word in amount_words or rest.startswith(amount_words) or _AMOUNT_ASKED.match(rest):
        return True
    # 「增加了多少」 (an amount), not 「增加了多少个百分点」 or 「增加了多少%」.
    said = word if word.endswith(how_much) else next((w for w in how_much if rest.startswith(w)), None)
    tail = rest[len(said):] if said and rest.startswith(said) else rest
    return bool(said) and bool(re.match(r"^了?(?:多少|几)(?!个百分点|%|倍)", tail))


@lru_cache(maxsize=1)
def _neutral_before() -> tuple[str, ...]:
    words = {*intent_rules()["qualifiers"]["neutral_before"], *intent_rules()["cues"]["wrapper"]}
    return tuple(sorted(words, key=len, reverse=True))


# Between two quantities of a list (营业收入和净利润, 营业收入、营业成本).
_LIST_SEPARATORS = ("以及", "和", "与", "及", "跟", "、")


def _modifier_start(text: str, m: Mention, mentions: list[Mention]) -> int | None:
    """Where words written right before ``m`` that make it another quantity start (个人贷款不良率,
    逾期90天以上贷款拨备覆盖率), or None when only neutral words (2024年末的, 合并报表中的) or another
    quantity of a list (营业收入和净利润) stand there."""
    ends = {o.end for o in mentions if o is not m}
    start = m.start
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "、") and not text[start - 1].isspace():
        if any(text.startswith(sep, start - len(sep)) and start - len(sep) in ends for sep in _LIST_SEPARATORS):
            break  # the previous quantity of a list
        if text[start - 1] == "年" and start > 1 and text[start - 2].isdigit():
            break  # a year: 2024年
        if text[start - 1].isdigit() and not re.search(r"[\u4e00-\u9fff]", text[max(0, start - 4):start - 1]):
            break  # a number standing alone (a year, an amount), not inside words such as 逾期90天
        start -= 1
    run = text[start:m.start]
    words = _neutral_before()
    changed = True
    while run and changed:
        changed = False
        for w in words:
            if run.endswith(w):
                run, changed = run[: -len(w)], True
                break
            if run.startswith(w):
                run, changed = run[len(w):], True
                break
    return start if run else None


def _after_lists(m: Mention, growth: bool) -> tuple[str, ...]:
    """The qualifier lists read after ``m``: a change (unless the question compares years itself), another
    quantity, and for an amount a rate of it (所得税税率)."""
    amount = m.kind == "field" and field_dictionary()[m.name].unit in ("money", "count")
    return ("growth",) * growth + ("after",) + ("amount_rate",) * amount


def specific_quantities(text: str, mentions: list[Mention], *, growth: bool = True,
                        modifiers: bool = False) -> list[Specific]:
    """The mentions of ``mentions`` (found in ``text``) that qualifier words make a quantity the
    dictionary does not name. ``growth=False`` when the question compares years itself, so a change
    word is no other quantity; ``modifiers``: any non-neutral words right before a quantity make it
    another (a question about named companies)."""
    out: list[Specific] = []
    for m in mentions:
        if m.kind == "field" and field_dictionary()[m.name].unit == "text":
            continue  # not a quantity: 境内会计师事务所 is the 会计师事务所
        start = _before(text, m)
        # Word order in English differs ("Ping An Bank's total assets"): modifiers are read in Chinese only.
        if start is None and modifiers and not m.text.isascii():
            start = _modifier_start(text, m, mentions)
        if start is not None:
            inside = [o for o in mentions if o is not m and start <= o.start and o.end <= m.start]
            qualifier = text[start:m.start]
            out.append(Specific(text[start:m.end], [*inside, m], formula=_qualified_growth(qualifier, m),
                                field=_qualified_field(qualifier, m)))
        elif (hit := _after(text, m, _after_lists(m, growth))) is not None:
            name, end = hit
            amount = name == "growth" and asks_amount(text[m.end:end].lstrip(_FILLER), text[end:])
            excluded, end = excluded_after(text, m) or (None, end)
            out.append(Specific(text[m.start:end], [m], growth_formula(m, amount=amount) if name == "growth" else None,
                                excluded=excluded))
    # A mention inside another's qualifier (非经常性损益 in 扣除非经常性损益后的稀释每股收益) is that one's.
    return [s for s in out if not any(t is not s and s.covers[-1] in t.covers for t in out)]


def pair_formula(text: str, mentions: list[Mention]) -> tuple[str, Mention, Mention] | None:
    """「研发费用占营收的比例」, 「营业收入与营业成本的差额」: (the formula, its two fields) when two numeric
    fields are written as one quantity computed from both (knowledge/intents.toml qualifiers.pairs)."""
    fields = [m for m in mentions if m.kind == "field"]
    for pair in intent_rules()["qualifiers"]["pairs"]:
        for part, whole in itertools.pairwise(fields):
            link, tail = text[part.end:whole.start], text[whole.end:]
            if link in pair["link"] and any(tail.startswith(t) for t in pair["tail"]):
                f = get_formula(pair["formula"].format(part=part.name, whole=whole.name))
                if f is not None:
                    return f.name, part, whole
    return None


def plainly_named(mentions: list[Mention], specific: list[Specific]) -> set[str]:
    """The names some mention stands for as written (a field asked for twice, once qualified, stays)."""
    covered = {id(m) for s in specific for m in s.covers}
    return {m.name for m in mentions if id(m) not in covered}


def is_share_follow_up(words: str) -> bool:
    """「占员工总数的比例呢？」: a follow-up asking the previous figure's share of another."""
    return any(words.startswith(link) for pair in intent_rules()["qualifiers"]["pairs"] for link in pair["link"]
               if "比例" in pair["formula"])


def qualified_follow_up(words: str, said: list[str]) -> str | None:
    """「扣非的呢？」 or 「那同比增长呢？」: ``words`` (the follow-up without its 那 and 呢) only qualify
    what the previous turn asked, ``said`` as it said it. The question they make together (扣非净利润,
    营收同比增长), so it is understood as that, not as the previous figure again; or None."""
    q = intent_rules()["qualifiers"]
    if words.removesuffix(_FILLER) in q["before"]:
        return "，".join(words.removesuffix(_FILLER) + s for s in said)
    # 「24年比23年增长了多少」, 「较上年末增长多少」: the years are read elsewhere; what is left is a change.
    change = _AGAINST_LEAD.sub("", words)
    if any(change.startswith(w) for w in q["growth"] + q["after"]):
        return "，".join(s + change for s in said)
    # 「占员工总数的比例呢」: the previous figure's share of another.
    if is_share_follow_up(words) and len(said) == 1:
        return said[0] + words
    return None


# What may open a follow-up about a change before its growth word, years masked out: 比, 较, 末 (上年末).
_AGAINST_LEAD = re.compile(r"^(?:年度?)?(?:[比较]|相比|相较于?|与)?(?:年度?)?(?:年末|末|同期|年底)?")
