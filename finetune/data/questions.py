"""Questions of every intent class, each with what it asks about (company, years, fields, metrics,
topics): the intent labels and the keyword targets are two views of the same generated question.

统计题 questions are not made here: they are the NL2SQL builder's statistical questions, so the intent
model sees exactly the questions the SQL model is trained to answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from finetune.data.paraphrase import Paraphraser, slots, year_form
from finetune.data.resources import templates
from knowledge.fields import FieldDictionary, field_dictionary
from knowledge.formulas import formula_table
from knowledge.store import Company

INTENT_LABELS = ("基本信息", "员工信息", "财务报表", "计算题", "统计题", "开放性问题", "金融概念", "其他")
STAT_LABEL = "统计题"
# Synonyms that are report row labels rather than words anyone types: "公司的外文名称(如有)".
_MAX_MENTION = 14


@dataclass
class Question:
    text: str
    label: str
    company: Company | None = None
    mention: str | None = None  # how the question names the company (full or short name)
    years: list[int] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    pattern: str = ""

    @property
    def group(self) -> str:
        """Split key: questions about one company stay on one side of the train/dev split."""
        return f"company:{self.company.code}" if self.company else f"text:{self.text}"


def field_pool(spec: dict, fields: FieldDictionary) -> list[str]:
    names = [f.name for f in fields if f.statement in spec.get("statements", ())]
    names += [n for n in spec.get("include", ()) if n in fields and n not in names]
    return [n for n in names if n not in set(spec.get("exclude", ()))]


def mention_field(name: str, fields: FieldDictionary, rng: random.Random, p_synonym: float) -> str:
    forms = [s for s in fields[name].synonyms if "(" not in s and "（" not in s and len(s) <= _MAX_MENTION]
    return rng.choice(forms) if forms and rng.random() < p_synonym else name


def mention_company(company: Company, rng: random.Random, p_short: float) -> str:
    return company.short_name if company.short_name and rng.random() < p_short else company.full_name


class QuestionGenerator:
    def __init__(self, companies: list[Company], rng: random.Random, fields: FieldDictionary | None = None):
        if not companies:
            raise ValueError("the company registry is empty")
        self.companies = companies
        self.rng = rng
        self.fields = fields or field_dictionary()
        self.t = templates()
        self.para = Paraphraser(rng)
        # The formulas the agent computes (not those asked like reported figures), with their input fields.
        self.metrics = [(f.name, list(dict.fromkeys(i.field for i in f.inputs)))
                        for f in formula_table().values() if not f.lookup]
        growth = self.t["growth"]
        self.metrics += [(form.format(field=f), [f]) for f in growth["fields"] for form in growth["names"]]
        self.growth_names = {form.format(field=f) for f in growth["fields"] for form in growth["names"]}
        money = [f.name for f in self.fields if f.unit == "money"]
        self.concepts = list(self.t["intent"]["金融概念"]["concepts"]) + money

    def generate(self, label: str) -> Question:
        spec = self.t["intent"][label]
        register, template = self.para.pick_template(spec.get("formal", []), spec.get("colloquial", []))
        values, q = self._slot_values(label, spec, slots(template))
        rendered = self.para.render(template, values, register)
        q.text, q.rules = rendered.text, rendered.rules
        if "company" in rendered.omitted:
            q.company, q.mention = None, None
        if "year" in rendered.omitted:
            q.years = []
        return q

    def _slot_values(self, label: str, spec: dict, wanted: set[str]) -> tuple[dict[str, str], Question]:
        rng, p = self.rng, self.t["paraphrase"]
        q = Question("", label)
        values: dict[str, str] = {}
        if "company" in wanted:
            q.company = rng.choice(self.companies)
            q.mention = values["company"] = mention_company(q.company, rng, p["p_short_name"])
        lo, hi = self.t["years"]["intent_range"]
        if "year" in wanted:
            years = sorted(rng.sample(range(lo, hi + 1), 2 if "year2" in wanted else 1))
            values["year"] = year_form(years[0], rng)
            if "year2" in wanted:
                values["year2"] = f"{years[1]}年"
            q.years = years
        pool = field_pool(spec.get("fields", {}), self.fields)
        picked = rng.sample(pool, 2) if "field2" in wanted else [rng.choice(pool)] if "field" in wanted else []
        for slot, name in zip(("field", "field2"), picked):
            values[slot] = mention_field(name, self.fields, rng, p["p_synonym"])
        q.fields = picked
        if "text_field" in wanted:
            name = rng.choice(spec["text_fields"])
            values["text_field"] = mention_field(name, self.fields, rng, p["p_synonym"])
            q.fields = [name]
        if "metric" in wanted:
            name, inputs = rng.choice(self.metrics)
            values["metric"] = name
            q.metrics, q.fields = [name], inputs
            if name in self.growth_names and q.years:
                q.years = [q.years[0] - 1, q.years[0]]  # growth compares with the year before
        if "topic" in wanted:
            values["topic"] = rng.choice(spec["topics"])
            q.topics = [values["topic"]]
        if "concept" in wanted:
            picked = rng.sample(self.concepts, 2)
            values["concept"], values["concept2"] = picked
            q.topics = picked[: 2 if "concept2" in wanted else 1]
        if "aspect" in wanted:
            values["aspect"] = rng.choice(spec["aspects"])
        for slot, options in spec.get("fillers", {}).items():
            if slot in wanted:
                values[slot] = rng.choice(options)
        return values, q
