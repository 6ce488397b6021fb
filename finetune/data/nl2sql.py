"""NL2SQL examples over the wide table, each target executed on the synthetic store before it is kept.

Slot values come from the store itself (companies it holds, the provinces and industries it has in
that year, thresholds at quantiles of the field's values), so a question such as "2020年营业收入超过
12亿元的公司有哪些" is one whose SQL returns rows. The prompt lists the question's columns, their
look-alikes and a few unrelated columns, as the agent's schema linking would hand them over.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import lru_cache

from finetune.data.paraphrase import Paraphraser, fill, slots, year_form, years_form
from finetune.data.questions import STAT_LABEL, Question, mention_company, mention_field
from finetune.data.resources import templates
from knowledge.fields import FieldDictionary
from knowledge.schema import lookalikes, render_schema
from knowledge.store import Store

NUMERIC_UNITS = ("money", "count", "percent")
_CHINESE_N = {3: "三", 5: "五", 10: "十"}


@dataclass
class SqlExample:
    question: Question
    prompt: str  # the user message: schema, linked companies, question
    sql: str
    pattern: str
    columns: list[str] = field(default_factory=list)
    n_rows: int = 0


class SqlGenerator:
    def __init__(self, store: Store, rng: random.Random, years: list[int]):
        self.store = store
        self.fields: FieldDictionary = store.fields
        self.rng = rng
        self.years = sorted(years)
        self.t = templates()
        self.cfg = self.t["nl2sql"]
        self.words = self.cfg["words"]
        self.para = Paraphraser(rng)
        self.companies = store.companies()
        self.alike = lookalikes(self.fields)
        self.all_columns = [f.name for f in self.fields]
        self.rejected: dict[str, int] = {}

    # Public ------------------------------------------------------------------------------------
    def generate(self, pattern: dict) -> SqlExample | None:
        """One example of ``pattern``, or None when its target returned no rows (counted in ``rejected``)."""
        template = self.rng.choice(pattern["questions"])
        q_values, sql_values, q = self._slots(pattern, slots(template))
        register = "colloquial" if self.rng.random() < self.t["paraphrase"]["p_colloquial"] else "formal"
        rendered = self.para.render(template, q_values, register, allow_omission=False)
        q.text, q.rules, q.pattern = rendered.text, rendered.rules, pattern["name"]
        sql = fill(pattern["sql"], sql_values)
        try:
            _, rows = self.store.readonly_query(sql)
        except Exception as exc:  # a template bug: fail loudly rather than train on it
            raise ValueError(f"pattern {pattern['name']}: {sql!r} does not execute: {exc}") from exc
        if pattern.get("needs_rows") and not _has_rows(rows):
            self.rejected[pattern["name"]] = self.rejected.get(pattern["name"], 0) + 1
            return None
        columns = self._prompt_columns(q.fields + sql_values.get("_extra_columns", []))
        entities = [(q.mention, q.company.code)] if q.company else []
        prompt = render_schema(columns, entities, self.fields) + "\n问题：" + q.text
        return SqlExample(q, prompt, sql, pattern["name"], columns, len(rows))

    # Slots -------------------------------------------------------------------------------------
    def _slots(self, pattern: dict, wanted: set[str]) -> tuple[dict, dict, Question]:
        rng, p = self.rng, self.t["paraphrase"]
        stat = bool(pattern.get("stat"))
        q = Question("", STAT_LABEL)  # single-company patterns get their label once the fields are known
        qv: dict[str, str] = {}
        sv: dict[str, str] = {}
        if "company" in wanted:
            q.company = rng.choice(self.companies)
            q.mention = qv["company"] = mention_company(q.company, rng, p["p_short_name"])
            sv["code"] = q.company.code
        if "years" in wanted:
            span = rng.choice([2, 3]) if len(self.years) >= 3 else 2
            start = rng.randrange(0, len(self.years) - span + 1)
            first, last = self.years[start], self.years[start + span - 1]
            qv["years"], sv["y"], sv["y2"] = years_form(first, last, rng), str(first), str(last)
            q.years = list(range(first, last + 1))
        else:
            y = rng.choice(self.years)
            qv["year"], sv["y"] = year_form(y, rng), str(y)
            q.years = [y]
        year = int(sv["y"])
        n_fields = 3 if "field3" in wanted else 2 if "field2" in wanted else 1
        names = rng.sample(self._field_pool(pattern["unit"]), n_fields)
        for slot, name in zip(("field", "field2", "field3"), names):
            qv[slot] = mention_field(name, self.fields, rng, p["p_synonym"])
        sv["field"], sv["columns"] = names[0], ", ".join(f'"{n}"' for n in names)
        q.fields = names
        if not stat:
            q.label = _lookup_label(self.fields, names)
        extra: list[str] = []
        sv["filter_clause"] = ""
        where = ""
        if "text_filter" in wanted:
            col, phrase, _ = rng.choice(self.words["filter_cols"])
            value = rng.choice(self._distinct(col, year))
            qv["text_filter"] = phrase.format(v=value)
            sv["filter_clause"] = where = f" AND t.\"{col}\" = '{value}'"
            extra.append(col)
        if "group_word" in wanted:
            col, _, word = rng.choice(self.words["filter_cols"])
            qv["group_word"], sv["group_col"] = word, col
            extra.append(col)
        values = self._values(names[0], year, where) if {"cmp_word", "lo_text"} & wanted else []
        sv["cmp_clause"] = ""
        if "cmp_word" in wanted:
            op, word = rng.choice(self.words["cmp"])
            threshold = _nice(_quantile(values, rng.uniform(0.25, 0.75)))
            qv["cmp_word"], qv["threshold_text"] = word, _as_text(threshold, self.fields[names[0]].unit)
            sv["cmp"], sv["threshold"] = op, _as_sql(threshold)
            sv["cmp_clause"] = f" AND t.\"{names[0]}\" {op} {sv['threshold']}"
        if "lo_text" in wanted:
            lo, hi = sorted(_nice(_quantile(values, rng.uniform(a, b))) for a, b in ((0.1, 0.45), (0.55, 0.9)))
            unit = self.fields[names[0]].unit
            qv["lo_text"], qv["hi_text"], sv["lo"], sv["hi"] = _as_text(lo, unit), _as_text(hi, unit), _as_sql(lo), _as_sql(hi)
        if {"order_word", "order_word2"} & wanted or "{order}" in pattern["sql"]:
            sql_order, word, word2 = rng.choice(self.words["order"])
            qv["order_word"], qv["order_word2"], sv["order"] = word, word2, sql_order
        if "n" in wanted:
            n = rng.choice([3, 5, 10])
            sv["n"] = str(n)
            qv["n"] = _CHINESE_N[n] if rng.random() < 0.3 else str(n)
        if "agg_word" in wanted:
            sv["agg"], qv["agg_word"] = rng.choice(self.words["agg"])
        sv["_extra_columns"] = extra
        return qv, sv, q

    def _field_pool(self, unit: str) -> list[str]:
        if unit == "any":
            return self.all_columns
        units = NUMERIC_UNITS if unit == "numeric" else (unit,)
        return [f.name for f in self.fields if f.unit in units]

    def _prompt_columns(self, needed: list[str]) -> list[str]:
        rng = self.rng
        columns = list(dict.fromkeys(needed))
        for name in needed:
            columns += [c for c in self.alike.get(name, ())[: self.cfg["max_lookalikes"]] if c not in columns]
        lo, hi = self.cfg["distractors"]
        columns += [c for c in rng.sample(self.all_columns, rng.randint(lo, hi)) if c not in columns]
        rng.shuffle(columns)
        return columns

    # Store look-ups (cached: the store does not change while a data set is built) ----------------
    def _distinct(self, col: str, year: int) -> list[str]:
        return _distinct(self.store, col, year)

    def _values(self, col: str, year: int, where: str) -> list[float]:
        return _values(self.store, col, year, where)


@lru_cache(maxsize=4096)
def _distinct(store: Store, col: str, year: int) -> list[str]:
    _, rows = store.readonly_query(f'SELECT DISTINCT t."{col}" FROM company_year AS t WHERE t.year = {year} AND t."{col}" IS NOT NULL ORDER BY 1')
    return [r[0] for r in rows]


@lru_cache(maxsize=4096)
def _values(store: Store, col: str, year: int, where: str) -> list[float]:
    _, rows = store.readonly_query(f'SELECT t."{col}" FROM company_year AS t WHERE t.year = {year}{where} AND t."{col}" IS NOT NULL ORDER BY 1')
    return [float(r[0]) for r in rows]


def _lookup_label(fields: FieldDictionary, names: list[str]) -> str:
    """The intent a single-company question over these columns belongs to."""
    statements = {fields[n].statement for n in names}
    if statements and statements <= {"basic"}:
        return "基本信息"
    if statements and statements <= {"staff"}:
        return "员工信息"
    return "财务报表"


def _has_rows(rows: list[tuple]) -> bool:
    # An aggregate over nothing returns one row of NULL, and COUNT over nothing returns 0.
    return bool(rows) and not (len(rows) == 1 and rows[0][0] in (None, 0))


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def _nice(v: float) -> float:
    """Two significant digits: thresholds people say (12亿, 3500人), not 1234567.89."""
    if v == 0:
        return 0.0
    mag = 10 ** (math.floor(math.log10(abs(v))) - 1)
    return round(v / mag) * mag


def _as_sql(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _as_text(v: float, unit: str) -> str:
    if unit == "count":
        return f"{int(v)}人"
    if unit == "percent":
        return f"{v:g}%"
    if abs(v) >= 1e8:
        return f"{v / 1e8:g}亿元"
    if abs(v) >= 1e4:
        return f"{v / 1e4:g}万元"
    return f"{v:g}元"
