"""Question understanding: companies, years, fields, formula, statistic, intent — and follow-ups.

Everything here is deterministic and fast (one automaton pass per dictionary); the intent adapter is
asked only when an LLM endpoint is configured. ``previous`` is the prior turn's :meth:`to_context`, so
「那2018年呢？」 keeps the company and fields and changes the year.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from knowledge.fields import field_dictionary, normalize_label, question_only_forms
from knowledge.formulas import get_formula, uses_prior_year
from understanding import intent as intent_rules
from understanding.entities import canonical_question, company_index
from understanding.mentions import (
    Specific,
    find_mentions,
    is_share_follow_up,
    pair_formula,
    plainly_named,
    qualified_follow_up,
    specific_quantities,
)
from understanding.segments import SegmentAsk, find_segment_ask, follow_segment, is_change_asked
from understanding.years import parse_years, resolve_years

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_DECIMALS = re.compile(r"(?:保留|小数点后|精确到)[^0-9一二两三四五六七八九，。,?？]{0,8}?([0-9一二两三四五六七八])\s*位")
_TOP_N = re.compile(r"前\s*([0-9一二两三四五六七八九十]+)\s*(?:名|家|位|个)?")
_NTH = re.compile(r"第\s*([0-9一二两三四五六七八九十]+)\s*(?:高|低|多|少|大|小|名)")
_THRESHOLD = re.compile(r"(超过|高于|大于|多于|不低于|不少于|至少|低于|小于|少于|不足|不超过|不高于)?\s*(-?\d+(?:\.\d+)?)\s*(亿|万|千)?\s*(元|人|%|个)?\s*(以上|以下)?")
_SCALE = {"亿": Decimal(10) ** 8, "万": Decimal(10) ** 4, "千": Decimal(1000), None: Decimal(1)}
# An entity whose name opens with this many characters of the company's is one of its group (平安理财, 平安银行).
_SHARED_NAME_HEAD = 2
_PRONOUN = re.compile(r"^(?:那|那么)?(?:它|它们|其|该公司|这家公司|这个公司|该企业|这家企业|他们)")
_PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
              "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
              "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门")


@dataclass
class CompanyRef:
    code: str
    name: str
    short_name: str | None
    mention: str | None = None  # how the question named it (answers echo it)


@dataclass
class Understanding:
    question: str
    intent: str
    companies: list[CompanyRef] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    field_mentions: dict[str, str] = field(default_factory=dict)
    formula: str | None = None
    statistic: dict | None = None
    decimals: int | None = None
    problems: list[str] = field(default_factory=list)
    resolved_from_context: list[str] = field(default_factory=list)
    intent_source: str = "rules"  # rules | llm
    # No year was written: the latest year the store holds was taken (the answer says so).
    year_assumed: int | None = None
    unit_request: str | None = None  # 「多少亿」: 亿元
    # The thread's years before this turn changed only them (「上一年呢」 after 2024: [2024]), so that a growth
    # follow-up next asks the change between the two figures shown.
    moved_from: list[int] = field(default_factory=list)
    # A question about one of the company's own segments (understanding.segments): SegmentAsk as a dict.
    segment: dict | None = None

    def to_context(self) -> dict[str, Any]:
        """JSON-serialisable thread memory for the next turn."""
        return asdict(self)

    @classmethod
    def from_context(cls, data: dict[str, Any]) -> Understanding:
        data = dict(data)
        data["companies"] = [CompanyRef(**c) for c in data.get("companies", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _cn_int(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1:], 0)
    if "十" in text:
        a, _, b = text.partition("十")
        return _CN_DIGITS.get(a, 1) * 10 + (_CN_DIGITS.get(b, 0) if b else 0)
    return _CN_DIGITS.get(text)


@lru_cache(maxsize=1)
def _unit_request_pattern() -> tuple[re.Pattern, dict[str, str]]:
    spec = intent_rules.intent_rules()["unit_requests"]
    asking = "|".join(sorted(map(re.escape, spec["asking"]), key=len, reverse=True))
    units = "|".join(sorted(map(re.escape, spec["units"]), key=len, reverse=True))
    return re.compile(rf"(?:{asking})\s*({units})元?"), spec["units"]


def parse_unit_request(text: str) -> str | None:
    """「营业收入多少亿」 → 亿元: the money unit the answer should use, if the question asks for one."""
    pattern, units = _unit_request_pattern()
    m = pattern.search(text)
    return units[m.group(1)] if m else None


def parse_decimals(text: str) -> int | None:
    m = _DECIMALS.search(text)
    return _cn_int(m.group(1)) if m else None


def parse_statistic(text: str, kind: str | None) -> dict | None:
    if kind is None:
        return None
    stat: dict[str, Any] = {"kind": kind}
    if kind == "rank":
        asc = intent_rules.has_cue(text, "rank_asc")
        stat["order"] = "asc" if asc else "desc"
        if m := _NTH.search(text):
            stat["nth"] = _cn_int(m.group(1)) or 1
            stat["order"] = "asc" if m.group(0)[-1] in "低少小" else "desc"
        stat["n"] = _cn_int(m.group(1)) if (m := _TOP_N.search(text)) else 1
    elif kind == "count":
        for m in _THRESHOLD.finditer(text):
            word, number, scale, unit, side = m.groups()
            if not (word or side) or (unit is None and scale is None and len(number) == 4 and not word):
                continue  # a bare number (a year) is not a threshold
            below = (word and word in intent_rules.cues("below")) or side == "以下"
            value = Decimal(number) * _SCALE[scale]
            stat.update(op="<" if below else ">", threshold=str(value), threshold_text=m.group(0).strip())
            break
        else:
            return None
    filters = {}
    for p in _PROVINCES:
        if p in text and (p + "省" in text or p + "市" in text or p + "的公司" in text or p + "地区" in text
                          or p + "自治区" in text):
            filters["省份"] = p
    if filters:
        stat["filters"] = filters
    return stat


_AGAINST_PRIOR = re.compile(r"(?:比|较|相比|相较于?|与)(?:上年|去年|上一年|前一年|上年同期|上年末|去年同期)")
_LEAD = re.compile(r"^(?:那么|那|它的|它|其|该公司的|该公司|这家公司的|还有)+")
_TAIL = re.compile(r"(?:的)?(?:呢|吗|怎么样|如何|是多少|多少)?[?？。!！]*$")


def _follow_up_words(text: str) -> str:
    """「那筹资活动的呢？」 → 筹资活动: what a follow-up says beyond 那 … 呢."""
    return _TAIL.sub("", _LEAD.sub("", text.replace("\u3000", "")))


def analogous_field(previous_fields: list[str], text: str) -> str | None:
    """「筹资活动的呢？」 after 投资活动产生的现金流量净额: the words replace the head of the previous
    field, and the result must be a field of the dictionary. Words that are the previous field's own head
    (「上一年筹资活动呢」 after 筹资活动产生的现金流量净额) name that field again."""
    words = _follow_up_words(text)
    if not 2 <= len(words) <= 8:
        return None
    fd = field_dictionary()
    for prev in previous_fields:
        # Replace a head of the same length first (投资活动 → 筹资活动), then any other head.
        for k in sorted(range(1, len(prev)), key=lambda k: (k != len(words), k)):
            hit = fd.resolve(words + prev[k:])
            if hit is not None and (hit.name != prev or prev.startswith(words)):
                return hit.name
    return None


_QUARTER = re.compile(r"^第[一二三四]季度")
_UNKNOWN_FIELD = "未识别到要查询的字段："
# Words by which a question names its own period: a quarter, or the whole year.
_OWN_PERIOD = re.compile(r"第?[一二三四1-4]季度|[Qq][1-4]|全年|全年度|整年|年度|单季")


def _carry_quarter(u: Understanding, prev: dict, text: str, problems: list[str]) -> None:
    """「经营现金流呢？」 after 第三季度营业收入: the thread asks about that quarter, so the new field is the
    quarter's (第三季度经营活动产生的现金流量净额), or, where the report prints no such quarterly figure, refused
    naming it: never the whole year's figure for a quarter's question. A question naming its own period
    (「全年的呢」, 「四季度的呢」) decides it."""
    # The quarter of the previous turn's fields, or of the quarterly field it was refused for (第四季度净息差).
    asked = [*(prev.get("fields") or []),
             *(p.removeprefix(_UNKNOWN_FIELD) for p in prev.get("problems") or [] if p.startswith(_UNKNOWN_FIELD))]
    quarters = {m[0] for f in asked if (m := _QUARTER.match(f))}
    if len(quarters) != 1 or not u.fields or _OWN_PERIOD.search(text):
        return
    quarter, fd = quarters.pop(), field_dictionary()
    if all(_QUARTER.match(f) for f in u.fields):
        return
    carried = []
    for f in u.fields:
        if _QUARTER.match(f):
            carried.append(f)
            continue
        said = u.field_mentions.get(f, f)
        hit = fd.resolve(quarter + said) or fd.resolve(quarter + f)
        if hit is None:
            problems.append(f"{_UNKNOWN_FIELD}{quarter}{said}")
            continue
        carried.append(hit.name)
        u.field_mentions[hit.name] = quarter + said
    u.fields = carried
    u.resolved_from_context.append("quarter")


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for s, e in spans:
        for i in range(max(0, s), min(len(chars), e)):
            chars[i] = "\u3000"  # a character no dictionary form contains
    return "".join(chars)


def _own_topic(masked: str, found: list) -> bool:
    """Whether the question says something beyond names, years, fields and follow-up words (「简要介绍…的
    社会责任工作情况」): a topic of its own, so the previous turn's fields do not carry over."""
    text = _mask(masked, [(m.start, m.end) for m in found])
    text = _DECIMALS.sub("", text)
    text = _unit_request_pattern()[0].sub("", text)
    for word in sorted(intent_rules.intent_rules()["follow_up"]["filler"], key=len, reverse=True):
        text = text.replace(word, "")
    return len(re.findall(r"[\u4e00-\u9fff]", text)) >= 2


def _growth_between_shown_years(u: Understanding, prev: dict) -> list[int] | None:
    """「上一年呢」 then 「增长率是多少」 (2024, then 2023, of one field): the change between the two figures the
    thread showed, later over earlier — the later year's growth, not the earlier one's against a third year.
    None when the follow-up is not the growth of the field those two turns asked for."""
    shown, before = prev.get("years") or [], prev.get("moved_from") or []
    if len(shown) != 1 or before != [shown[0] + 1] or not u.formula or not prev.get("fields"):
        return None
    f = get_formula(u.formula)
    if f is None or not uses_prior_year(f) or any(i.field not in prev["fields"] for i in f.inputs):
        return None
    return before


def _one_year_for_a_change(u: Understanding, ym, text: str) -> None:
    """「2024年比2023年增长了多少」, 「2019年比上年增加了多少元」: a change over the prior year is asked for the
    later year only (its formula reads the earlier one)."""
    f = get_formula(u.formula) if u.formula else None
    if f is None or not uses_prior_year(f) or len(u.years) != 2 or u.years[1] - u.years[0] != 1:
        return
    if ym.relative or intent_rules.has_cue(text, "against"):
        u.years = [u.years[1]]


def _answer_what_is_named(u: Understanding, found: list, specific: list[Specific], problems: list[str]) -> None:
    """「扣非营业利润」 is not 营业利润 and 「营收同比增长」 is not the revenue: a qualified mention is
    answered by its growth formula, or refused naming the words, never with the field it contains."""
    keep = plainly_named(found, specific)
    for s in specific:
        for m in s.covers:
            if m.kind == "formula" and u.formula == m.name:
                u.formula = None
            elif m.name in u.fields and m.name not in keep:
                u.fields.remove(m.name)
        if s.field:  # the qualified words spell a field of their own (第四季度经营现金流)
            u.fields.append(s.field)
            u.field_mentions[s.field] = s.words
        elif s.formula and not u.formula:
            u.formula, u.field_mentions[s.formula] = s.formula, s.words
            if u.intent in intent_rules.LOOKUP_INTENTS and u.intent_source == "rules":
                u.intent = "计算题"  # the rules saw a level; it is the formula's growth rate
        else:
            problems.append(f"未识别到要查询的字段：{s.words}")


def _implied_exclusions(specific: list[Specific], companies: list[CompanyRef]) -> list[Specific]:
    """``specific`` without the parentheticals that only restate a parent-only figure: 「本行在职员工人数（不含
    平安理财）」 — the parent's own figure leaves the group's other members out by definition, so excluding one
    (a subsidiary, or an entity named like the company: 平安理财 beside 平安银行) asks for that figure. Excluding
    anything else (（不含派遣人员）) is another quantity, and stays one."""
    rules = intent_rules.intent_rules()["qualifiers"]
    return [s for s in specific if not (s.excluded and s.covers[-1].name in rules["parent_only_fields"]
                                        and _group_member(s.excluded, companies, rules["group_members"]))]


def _group_member(words: str, companies: list[CompanyRef], member_words: list[str]) -> bool:
    if words.endswith(tuple(member_words)):
        return True
    names = [n for c in companies for n in (c.short_name, c.name, c.mention) if n]
    return any(len(os.path.commonprefix([words, n])) >= _SHARED_NAME_HEAD for n in names)


def _latest_year_held(store, u: Understanding, kind: str | None) -> int | None:
    """The year a question without one means: the latest its companies all have (a ranking: of any)."""
    if u.companies:
        latest = [store.latest_year(c.code) for c in u.companies]
        return min(latest) if all(y is not None for y in latest) else None
    if kind in ("rank", "count") and (u.fields or u.formula):
        return store.latest_year()
    return None


def _segment_ask(store, u: Understanding, masked: str, prev: dict | None, found: list) -> SegmentAsk | None:
    """A question about one company's stored segment (「生物制药业务的毛利率」), asked for its years; or a
    follow-up of one about the same company (「那罐式集装箱呢？」, 「那2018年呢？」: understanding.segments). Words
    a field of the dictionary spells (a segment 其他 in 「其他业务收入」) are that field, never a segment."""
    if len(u.companies) != 1 or not u.years:
        return None
    names = [row["name"] for row in store.segments(u.companies[0].code)]
    if not names:
        return None
    ask = find_segment_ask(masked, names)
    before = (prev or {}).get("segment")
    if ask is None and before and [c["code"] for c in prev.get("companies") or []] == [u.companies[0].code]:
        ask = follow_segment(masked, names, before)
    if ask is None or any(ask.said in m.text for m in found):
        return None
    return ask


def understand(question: str, store, *, previous: dict | None = None, llm_intent: str | None = None) -> Understanding:
    """What ``question`` asks, with follow-ups resolved against ``previous`` (the thread's last
    understanding). ``llm_intent``, the intent adapter's label for this question, overrides the rules."""
    text = canonical_question(question)
    u = Understanding(question=question, intent="其他")
    problems: list[str] = []

    # Companies ---------------------------------------------------------------------------------
    index = company_index(store)
    matches = index.find(text)
    spans: list[tuple[int, int]] = []
    for m in matches:
        spans.append((m.start, m.end))
        if m.company is None:
            names = "、".join(f"{c.short_name or c.full_name}（{c.code}）" for c in m.candidates)
            problems.append(f"公司名称有歧义：“{m.mention}”可能指{names}")
            continue
        c = m.company
        u.companies.append(CompanyRef(c.code, c.full_name, c.short_name, m.mention))
    # Years (before fuzzy matching, so 2019年 is not part of a name) ---------------------------------
    ym = parse_years(text)
    if _AGAINST_PRIOR.search(text):
        ym.relative = []  # 「较上年增长」: 上年 is what the change is against, not the year asked
    year_spans = ym.spans
    if ym.refused:  # 2099年, 公元前2019年: named in the answer, never answered for another year
        problems.append("年份超出年报范围：" + "、".join(ym.refused))
    masked = _mask(text, spans + year_spans)

    # Fields and formulas -----------------------------------------------------------------------
    fd = field_dictionary()
    formula = None
    # The qualifiers next to a mention are read with the years as written (较上年增长); a follow-up may
    # rewrite the words that name the fields (「扣非的呢？」).
    found, named = find_mentions(masked), _mask(text, spans)
    for mention in found:
        # Answers echo the user's words (营收), but not a phrase or English: 「赚了多少」 is answered as 净利润.
        said = mention.name if normalize_label(mention.text).upper() in question_only_forms() else mention.text
        if mention.kind == "formula":
            formula = formula or mention.name
            u.field_mentions.setdefault(mention.name, said)
        elif mention.name not in u.fields:
            u.fields.append(mention.name)
            u.field_mentions[mention.name] = said
    if formula is None and (pair := pair_formula(named, found)) is not None:
        formula, part, whole = pair  # 「研发费用占营收的比例」: computed, not the two levels
        u.fields = [f for f in u.fields if f not in (part.name, whole.name)]
        u.field_mentions[formula] = formula
        found = [m for m in found if m is not part and m is not whole]
    u.formula = formula
    u.decimals = parse_decimals(text)
    u.unit_request = parse_unit_request(text)
    cue_text = masked
    # A field's own words are no statistic cue either (第一季度营业收入 is not a ranking's 第一).
    kind = intent_rules.statistic_kind(_mask(cue_text, [(m.start, m.end) for m in found]))

    # A company the registry does not know still makes this a question about a company (so it is
    # refused by name, not answered as a general concept).
    unknown_company = False
    if not u.companies and not any(p.startswith("公司名称有歧义") for p in problems):
        # 「中牧股份的呢？」 in a thread names a company too: one the registry lacks is refused, not replaced.
        asks_about = u.fields or u.formula or ym.years or (previous and text.endswith(("呢", "呢?", "呢？")))
        fuzzy = index.fuzzy(_mask(text, year_spans)) if asks_about else None
        if fuzzy is not None:
            c = fuzzy.company
            u.companies.append(CompanyRef(c.code, c.full_name, c.short_name, fuzzy.mention))
        elif asks_about and (mention := index.unknown_mention(_mask(text, year_spans))):
            problems.append(f"未识别到公司：{mention}")
            unknown_company = True

    # Follow-ups --------------------------------------------------------------------------------
    prev = previous or None
    if prev and intent_rules.has_cue(cue_text, "concept_opening"):
        prev = None  # 「什么是毛利率？」 after a lookup is a new question, not about that company
    explain = False
    if prev:
        explain = intent_rules.has_cue(cue_text, "explain_formula") and bool(prev.get("formula")) and not u.formula
        adding = bool(u.companies) and not (u.fields or u.formula) and prev.get("companies") \
            and intent_rules.has_cue(cue_text, "add_company") and not explain
        if adding:
            known = {c.code for c in u.companies}
            prior = [CompanyRef(**c) for c in prev["companies"] if c["code"] not in known]
            u.companies = prior + u.companies
            u.resolved_from_context.append("companies")
            kind = "compare_companies"
        own_scope = kind in ("rank", "count")  # 「2021年营业收入最高的公司」 is about all companies
        if not u.companies and prev.get("companies") and not own_scope \
                and not any(p.startswith("公司名称有歧义") for p in problems) \
                and not any(p.startswith("未识别到公司") for p in problems):
            u.companies = [CompanyRef(**c) for c in prev["companies"]]
            u.resolved_from_context.append("companies")
        if prev.get("fields") and len(prev["fields"]) == 1 and is_share_follow_up(_follow_up_words(cue_text)):
            u.fields, u.formula = [], None  # 「占员工总数的比例呢？」: the whole is named, the part is the last turn's
        if not u.fields and not u.formula and prev.get("fields") and not explain:
            if analogous := analogous_field(prev["fields"], cue_text):
                u.fields = [analogous]
                u.field_mentions[analogous] = analogous
        if not u.fields and not u.formula and (prev.get("fields") or prev.get("formula")) and not explain:
            asked_before = [*(prev.get("fields") or []), *([prev["formula"]] if prev.get("formula") else [])]
            said = [(prev.get("field_mentions") or {}).get(x, x) for x in asked_before]
            if asked := qualified_follow_up(_follow_up_words(cue_text), said):
                named, found = asked, find_mentions(asked)  # 「扣非的呢？」 after 净利润 asks 扣非净利润
                u.fields = list(dict.fromkeys(m.name for m in found if m.kind == "field"))
                u.formula = next((m.name for m in found if m.kind == "formula"), None)
                u.field_mentions.update({m.name: m.text for m in found})
                if u.formula is None and (pair := pair_formula(asked, found)) is not None:
                    u.formula, part, whole = pair  # 「占员工总数的比例呢？」 after 研发人员数量
                    u.fields = [f for f in u.fields if f not in (part.name, whole.name)]
                    u.field_mentions[u.formula] = u.formula
                    found = [m for m in found if m is not part and m is not whole]
                u.resolved_from_context.append("fields")
        if not u.fields and not u.formula and (prev.get("fields") or prev.get("formula")) \
                and not _own_topic(masked, found):
            u.fields = list(prev.get("fields") or [])
            u.formula = prev.get("formula")
            u.field_mentions = dict(prev.get("field_mentions") or {})
            u.resolved_from_context.append("formula" if u.formula and not u.fields else "fields")
            if u.decimals is None:
                u.decimals = prev.get("decimals")
            if kind is None and prev.get("statistic") and prev["statistic"].get("kind") != "explain_formula":
                kind = prev["statistic"].get("kind")
        if not ym.years and not ym.relative and not ym.refused and prev.get("years"):
            u.years = list(prev["years"])
            u.resolved_from_context.append("years")
        _carry_quarter(u, prev, cue_text, problems)
    if prev and u.resolved_from_context and u.unit_request is None:
        u.unit_request = prev.get("unit_request")  # 「多少亿」 → 「那上一年呢？」: still in 亿元
    if not u.years:
        anchor = max(prev["years"]) if prev and prev.get("years") else None
        u.years = resolve_years(ym, default=anchor)
    if not u.years and not ym.refused and (latest := _latest_year_held(store, u, kind)) is not None:
        # 「四方科技的董秘是谁」: people mean the latest report; 上年 then counts from it.
        u.years = resolve_years(ym, default=latest) if ym.relative else [latest]
        u.year_assumed = latest

    # Statistic ---------------------------------------------------------------------------------
    u.statistic = parse_statistic(cue_text, kind) if kind != "compare_companies" else {"kind": kind}
    if u.statistic and u.statistic["kind"] == "compare_years" and len(u.years) == 1:
        u.years = [u.years[0] - 1, u.years[0]]  # 「2020年的法定代表人是否相同」: against the year before
    if len(u.companies) > 1 and not u.statistic and (u.fields or u.formula):
        u.statistic = {"kind": "compare_companies"}

    # Intent ------------------------------------------------------------------------------------
    f = get_formula(u.formula) if u.formula else None
    if explain:
        u.formula = prev["formula"]
        u.statistic = {"kind": "explain_formula"}
        u.intent = "计算题"  # the formula tool explains its own formulas
        u.resolved_from_context.append("formula")
    else:
        # A field's own words are no cue (业务及管理费 is not 业务, 一般风险准备 not 风险).
        without_fields = _mask(cue_text, [(m.start, m.end) for m in found])
        u.intent = intent_rules.classify_rules(
            without_fields, has_company=bool(u.companies) or unknown_company, fields=u.fields, formula=u.formula,
            formula_is_lookup=bool(f and f.lookup), has_year=bool(u.years), statistic=u.statistic)
        if llm_intent:
            u.intent, u.intent_source = llm_intent, "llm"

    # What is missing ---------------------------------------------------------------------------
    comparing = (u.statistic or {}).get("kind") == "compare_years"
    about_companies = bool(u.companies) and kind not in ("rank", "count")
    specific = _implied_exclusions(specific_quantities(named, found, growth=not comparing, modifiers=about_companies),
                                   u.companies)
    if u.intent == "开放性问题" and u.intent_source == "rules" and any(s.formula for s in specific) \
            and not intent_rules.has_cue(cue_text, "reason"):
        u.intent = "计算题"  # 「不良率同比变化」 asks for the change, not for text about it
    structured = u.intent in intent_rules.LOOKUP_INTENTS + ("计算题", "统计题")
    if structured:  # a number will be answered: never that of a nearer, less specific field
        _answer_what_is_named(u, found, specific, problems)
        _one_year_for_a_change(u, ym, cue_text)
        if prev and "years" in u.resolved_from_context and (later := _growth_between_shown_years(u, prev)):
            u.years = later
    cross_company = (u.statistic or {}).get("kind") in ("rank", "count")
    if u.intent == "其他" and (u.years or text.endswith(("呢", "呢?", "呢？"))) and not problems:
        problems.append("未识别到公司和要查询的内容（没有可承接的上文）")  # 「那2018年呢？」 opening a thread
    if structured:
        if not u.companies and not cross_company and not problems:
            problems.append("未识别到公司")
        if not u.years and not ym.refused:  # a refused year is already named
            problems.append("未识别到年份")
        if not u.fields and not u.formula and not any(p.startswith("未识别到要查询的字段") for p in problems):
            problems.append("未识别到要查询的字段")
    if (ask := _segment_ask(store, u, masked, prev, found)) is not None:
        # The segment's own figure answers, not the company's: what the field rules could not name is named.
        problems = [p for p in problems if not p.startswith("未识别到要查询的字段")]
        u.segment, u.fields, u.formula, u.statistic, u.intent = ask.to_context(), [], None, None, "财务报表"
        u.field_mentions = {figure: ask.said for figure in ask.figures}  # the words that named the segment
        if is_change_asked(ask) and len(u.years) == 2 and u.years[1] - u.years[0] == 1:
            u.years = [u.years[1]]  # 「较2019年增长多少」: the later year's change, which its report prints
    u.problems = problems
    u.resolved_from_context = list(dict.fromkeys(u.resolved_from_context))
    u.fields = [x for x in u.fields if x in fd]
    if prev and prev.get("years") and u.years != prev["years"] and u.fields == (prev.get("fields") or []) \
            and u.formula == prev.get("formula"):
        u.moved_from = list(prev["years"])  # only the year changed
    return u
