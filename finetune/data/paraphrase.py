"""Paraphrase rules: register, omitted subject or year, typos, full-width characters.

A template is rendered in steps so that each rule touches only what it may: typos go into the
template's own words (never into a company or field name, whose spelling the targets rely on),
omission removes a slot together with the words that hang on it, and the character-width rules run
last over the whole question (a model must read ２０２０ as 2020).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from finetune.data.resources import templates

SLOT = re.compile(r"\{(\w+)\}")
COMPANY_MARK, YEAR_MARK = "⟨C⟩", "⟨Y⟩"
# ASCII characters that have a full-width twin (U+FF01..U+FF5E = ASCII + 0xFEE0).
_TO_FULL = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz?!,:()~-"}
_TO_HALF_PUNCT = {"？": "?", "，": ",", "：": ":", "（": "(", "）": ")", "！": "!"}
_TRAILING = "？?。.！!"


@dataclass
class Rendered:
    text: str
    rules: list[str] = field(default_factory=list)
    omitted: set[str] = field(default_factory=set)  # "company" and/or "year"


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{slot}`` by its value; an unknown slot is an error in the data files."""

    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"no value for slot {{{m.group(1)}}} in template {template!r}")
        return str(values[m.group(1)])

    return SLOT.sub(sub, template)


def slots(template: str) -> set[str]:
    return set(SLOT.findall(template))


def year_form(year: int, rng: random.Random) -> str:
    form = rng.choice(templates()["years"]["forms"])
    return form.format(y=year, yy=f"{year % 100:02d}")


def years_form(first: int, last: int, rng: random.Random) -> str:
    return rng.choice(templates()["years"]["range_forms"]).format(y1=first, y2=last)


class Paraphraser:
    def __init__(self, rng: random.Random, rules: dict | None = None):
        self.rng = rng
        self.cfg = rules or templates()["paraphrase"]
        self.omission = templates()["omission"]

    def pick_template(self, formal: list[str], colloquial: list[str]) -> tuple[str, str]:
        if colloquial and (not formal or self.rng.random() < self.cfg["p_colloquial"]):
            return "colloquial", self.rng.choice(colloquial)
        return "formal", self.rng.choice(formal)

    def render(
        self,
        template: str,
        values: dict[str, str],
        register: str = "formal",
        *,
        allow_omission: bool = True,
        allow_typos: bool = True,
    ) -> Rendered:
        """Render ``template`` with ``values`` (which must include ``company``/``year`` when the
        template has them) and apply the paraphrase rules at random."""
        rng, cfg = self.rng, self.cfg
        out = Rendered("", rules=[register])
        skeleton = template
        if allow_typos and rng.random() < cfg["p_typo"]:
            skeleton, hit = self._typo(skeleton)
            if hit:
                out.rules.append("typo")
        present = slots(skeleton)
        marked = dict(values)
        if "company" in present:
            marked["company"] = COMPANY_MARK
        if "year" in present:
            marked["year"] = YEAR_MARK
        text = fill(skeleton, marked)
        # Only one of the two may go: a question with neither is a different (context-only) thing.
        if allow_omission and "company" in present and rng.random() < cfg["p_omit_company"]:
            text = self._omit(text, self.omission["company"])
            out.omitted.add("company")
        elif allow_omission and "year" in present and "year2" not in present and rng.random() < cfg["p_omit_year"]:
            text = self._omit(text, self.omission["year"])
            out.omitted.add("year")
        text = text.replace(COMPANY_MARK, str(values.get("company", ""))).replace(YEAR_MARK, str(values.get("year", "")))
        if out.omitted:
            out.rules.append("omit_" + "_".join(sorted(out.omitted)))
        text = self._decorate(text, register)
        if rng.random() < cfg["p_fullwidth"]:
            text = self._recorded(text, _TO_FULL, "fullwidth", out.rules)
        elif rng.random() < cfg["p_halfwidth_punct"]:
            text = self._recorded(text, _TO_HALF_PUNCT, "halfwidth_punct", out.rules)
        out.text = text
        return out

    @staticmethod
    def _recorded(text: str, table: dict[str, str], rule: str, rules: list[str]) -> str:
        changed = "".join(table.get(c, c) for c in text)
        if changed != text:  # a rule that changed nothing must not be counted as applied
            rules.append(rule)
        return changed

    def _typo(self, skeleton: str) -> tuple[str, bool]:
        # Work on the words between slots only.
        parts = re.split(r"(\{\w+\})", skeleton)
        candidates = [(i, a, b) for i, p in enumerate(parts) if not SLOT.fullmatch(p or "-")
                      for a, b in self.cfg["typos"] if a in p]
        if not candidates:
            return skeleton, False
        i, a, b = self.rng.choice(candidates)
        parts[i] = parts[i].replace(a, b, 1)
        return "".join(parts), True

    def _omit(self, text: str, rules: list[list[str]]) -> str:
        for old, new in rules:
            text = text.replace(old, new)
        for pattern, new in self.omission["tidy"]:
            text = re.sub(pattern, new, text)
        return text

    def _decorate(self, text: str, register: str) -> str:
        rng, cfg = self.rng, self.cfg
        prefix = rng.choice(cfg[f"{register}_prefix"])
        # A prefix on a sentence that already opens with a request reads as a stutter.
        if prefix and not text.startswith(("请", "根据", "能否", "帮我", "查", "给我", "说说", "把", "计算", "统计", "列出")):
            text = prefix + text
        if register == "colloquial":
            suffix = rng.choice(cfg["colloquial_suffix"])
            if suffix:
                text = text.rstrip(_TRAILING) + suffix
        return text


def normalize(text: str) -> str:
    """Comparison form for deduplication: width-folded, lower-case, without spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c).startswith("P")))
