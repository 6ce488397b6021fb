"""Questions about a company's own business segments: 「生物制药业务的毛利率」, 「冷冻设备营业收入同比增长多少」.

Segment names are the company's own (the 主营业务分行业/分产品/分地区 rows stored with its report), so a question is
a segment question only when it names one of them as printed, optionally with a suffix (生物制药业务 = 生物制药),
right before a metric word. Words and suffixes are in knowledge/business.toml [segment_questions]. A segment the
company does not print is never matched here, so no company-level figure can stand in for it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from knowledge.business import business_rules


@dataclass
class SegmentAsk:
    """A segment question: the segment's stored name, the words the question named it with, the table its
    suffix points to (None: any), and the figures asked (columns of the store's `segments` table)."""
    name: str
    said: str
    dimension: str | None
    figures: list[str] = field(default_factory=list)

    def to_context(self) -> dict[str, Any]:
        return asdict(self)


def segment_rules() -> dict[str, Any]:
    return business_rules()["segment_questions"]


def metric_specs() -> dict[str, dict[str, str]]:
    """Each figure column → its label and unit (the changes included), for the tool and the answer."""
    out: dict[str, dict[str, str]] = {}
    for m in segment_rules()["metrics"]:
        out[m["figure"]] = {"label": m["label"], "unit": m["unit"]}
        out[m["change_figure"]] = {"label": m["change_label"], "unit": m["change_unit"]}
    return out


def is_change_asked(ask: SegmentAsk) -> bool:
    """Whether ``ask`` asks a change on the prior year (a figure of the segment's prior-year comparison)."""
    changes = {m["change_figure"] for m in segment_rules()["metrics"]}
    return any(figure in changes for figure in ask.figures)


def _alternation(words) -> str:
    return "|".join(map(re.escape, sorted(set(words), key=len, reverse=True)))


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern, dict[str, dict]]:
    rules = segment_rules()
    by_word = {w: m for m in rules["metrics"] for w in m["words"]}
    suffix = re.compile(rf"(?:{_alternation(rules['suffixes'])})?(?:{_alternation(rules['joiners'])})?")
    metric = re.compile(_alternation(by_word))
    # 「比上年」 with 上年 masked as a year (「比\u3000\u3000」) compares with the prior year too.
    change = re.compile(rf"{_alternation(rules['change_words'])}|(?:{_alternation(rules['against'])})\u3000+")
    return suffix, metric, change, by_word


def find_segment_ask(text: str, names: list[str]) -> SegmentAsk | None:
    """The segment question ``text`` asks (company and years masked out), given the company's stored segment
    ``names``; None when it names none of them right before a metric, or asks something else of it (a share,
    a ranking, a reason: `blockers`)."""
    rules = segment_rules()
    if any(word in text for word in rules["blockers"]):
        return None
    suffix, metric, _, _ = _patterns()
    if len(_named(text, names)) > 1:
        return None  # 「冷冻设备和罐式集装箱的毛利率」: one segment is answered at a time, never one for both
    for name in sorted(set(names), key=len, reverse=True):
        for at in (m.start() for m in re.finditer(re.escape(name), text)):
            after = suffix.match(text, at + len(name))
            if metric.match(text, after.end()) is None:
                continue
            said = text[at:after.end()].removesuffix("的")
            dimension = _dimension(said, None)
            tail = text[after.end():]
            figures = _figures(tail) if _only_asks_figures(tail) else []
            return SegmentAsk(name, said, dimension, figures) if figures else None
    return None


def _dimension(said: str, default: str | None) -> str | None:
    """The table the words' suffix points to (生物制药产品: 分产品), else ``default``."""
    return next((d for s, d in segment_rules()["suffix_dimensions"].items() if said.endswith(s)), default)


def _named(text: str, names: list[str]) -> set[str]:
    """The stored names ``text`` names, a name inside a longer one's mention not counted."""
    spans: list[tuple[int, int, str]] = []
    for name in sorted(set(names), key=len, reverse=True):
        for m in re.finditer(re.escape(name), text):
            if not any(s <= m.start() and m.end() <= e for s, e, _ in spans):
                spans.append((m.start(), m.end(), name))
    return {name for _, _, name in spans}


def _only_asks_figures(words: str) -> bool:
    """Whether ``words`` say nothing but metric and change words and filler: 「的毛利率是多少」, not 「成本收入比」
    or 「营业外收入」, whose metric word is part of another quantity."""
    _, metric, change, _ = _patterns()
    leftover = change.sub("", metric.sub("", words))
    for word in sorted(segment_rules()["follow_filler"], key=len, reverse=True):
        leftover = leftover.replace(word, "")
    return re.search(r"[\u4e00-\u9fffA-Za-z0-9]", leftover) is None


def _figures(tail: str) -> list[str]:
    """The figures asked from the first metric on: each metric's level, or its change where a change word
    follows it before the next metric (「营业收入同比增长多少」)."""
    _, metric, change, by_word = _patterns()
    found = list(metric.finditer(tail))
    figures: list[str] = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(tail)
        spec = by_word[m[0]]
        changed = change.search(tail, m.end(), end) is not None
        if changed and any(unit in tail[m.end():end] for unit in segment_rules()["amount_units"]):
            return []  # 「增加了多少元」: the change as an amount, which the table does not print
        figure = spec["change_figure"] if changed else spec["figure"]
        if figure not in figures:
            figures.append(figure)
    return figures


def follow_segment(text: str, names: list[str], previous: dict) -> SegmentAsk | None:
    """A follow-up to a segment question (``previous``, its SegmentAsk as a dict) that says nothing but a
    stored segment, metric and change words and filler (company and years masked out): 「那罐式集装箱呢？」 asks
    the same figures of another segment, 「营业收入呢？」 another figure of the same one, 「同比变化多少？」 the change
    of the same figures, 「那2018年呢？」 the same again. Anything else (「公司整体的毛利率呢」) is no follow-up here."""
    rules = segment_rules()
    suffix, metric, change, _ = _patterns()
    name, said, dimension = previous["name"], previous["said"], previous.get("dimension")
    rest = text
    if len(_named(text, names)) > 1:
        return None
    for candidate in sorted(set(names), key=len, reverse=True):
        if (at := text.find(candidate)) >= 0:
            end = suffix.match(text, at + len(candidate)).end()
            name, said = candidate, text[at:end].removesuffix("的")
            dimension = _dimension(said, dimension)
            rest = text[:at] + text[end:]
            break
    if not _only_asks_figures(rest):
        return None
    figures = _figures(rest) if metric.search(rest) else list(previous.get("figures") or [])
    if figures and not metric.search(rest) and change.search(rest):
        if any(unit in rest for unit in rules["amount_units"]):
            return None
        to_change = {m["figure"]: m["change_figure"] for m in rules["metrics"]}
        figures = list(dict.fromkeys(to_change.get(f, f) for f in figures))
    return SegmentAsk(name, said, dimension, figures) if figures else None
