"""From what a question asks (an ``Understanding``) to the tools' plain arguments.

The tools know nothing of the language layer: they take codes, years and canonical field names. This
module is the one place that reads an ``Understanding`` for them — which tool a question needs, the
words the question used (answers echo them), and the refusal when something is missing.
"""

from __future__ import annotations

from graph.answers import templates
from knowledge.configuration import Settings
from knowledge.formulas import get_formula
from knowledge.store import Store
from tools import formula as formula_tool
from tools import sql
from tools.segments import segment_lookup
from tools.results import ToolResult
from understanding.entities import is_code_or_latin
from understanding.intent import has_cue
from understanding.question import Understanding

TEMPLATE_STATISTICS = ("rank", "count")
COMPARISONS = ("compare_years", "compare_companies")


def company_labels(u: Understanding) -> dict[str, str]:
    """How the question named each company (「生物股份」 stays 生物股份 in the answer); a code or an
    English name is answered with the short name."""
    return {c.code: (c.mention if not is_code_or_latin(c.mention) else None) or c.short_name or c.name
            for c in u.companies}


def _refusal(u: Understanding, default: str) -> ToolResult:
    return ToolResult(kind="refusal", missing=list(u.problems) or [default])


def lookup(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    """The fields asked for; a figure analysts ask for like a reported one but that is computed
    (每股净资产) comes from the formula chain, merged with the looked-up fields of the same question."""
    if u.formula:
        computed = formula(store, u, settings)
        if not u.fields:
            return computed
        return _merge(_fields(store, u, settings), computed)
    return _fields(store, u, settings)


def _fields(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    if not u.companies or not u.years or not u.fields:
        return _refusal(u, "未识别到公司、年份或字段")
    return sql.lookup(store, [c.code for c in u.companies], u.years, u.fields, company_labels=company_labels(u),
                      field_labels=u.field_mentions, settings=settings)


def segment(store: Store, u: Understanding) -> ToolResult:
    """The figures asked of one of the company's own segments, in the words the question named it with."""
    ask = u.segment or {}
    if len(u.companies) != 1 or not u.years or not ask:
        return _refusal(u, "未识别到公司、年份或业务分部")
    company = u.companies[0]
    return segment_lookup(store, company.code, u.years, ask["name"], ask["figures"], dimension=ask.get("dimension"),
                          company_label=company_labels(u)[company.code], segment_label=ask.get("said"))


def _merge(a: ToolResult, b: ToolResult) -> ToolResult:
    return ToolResult(kind="formula" if b.values else a.kind if a.values else "refusal", values=a.values + b.values,
                      sql=a.sql or b.sql, formula=b.formula if b.values else None,
                      citations=a.citations + b.citations, missing=a.missing + b.missing)


def formula(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    """The question's formula for its companies and years (an unknown formula is refused by the tool)."""
    if (u.statistic or {}).get("kind") == "explain_formula":  # 「这个比率是怎么算的？」
        return formula_tool.explain_formula(u.formula or "", u.decimals)
    f = get_formula(u.formula or "")
    if f is not None and (not u.companies or not u.years):
        return _refusal(u, "未识别到公司或年份")
    codes = [c.code for c in u.companies]
    printed = f.printed if f is not None and f.printed in store.fields else None
    if printed and not has_cue(u.question, "compute_explicitly"):
        # 「ROE」: the report's own 加权平均 figure, as printed, when every company-year asked has it.
        label = templates()["notes"]["printed"].format(field=printed)
        shown = sql.lookup(store, codes, u.years, [printed], company_labels=company_labels(u),
                           field_labels={printed: label}, settings=settings)
        if shown.values and not shown.missing:
            return shown
    computed = formula_tool.compute_formula(store, u.formula or "", codes, u.years, decimals=u.decimals,
                                            company_labels=company_labels(u), settings=settings)
    if printed and computed.formula is not None and not has_cue(u.question, "compute_explicitly"):
        computed.formula["note"] = templates()["notes"]["not_printed"].format(field=printed)
    return computed


def needs_generated_sql(u: Understanding) -> bool:
    """A statistic the templates do not cover: the NL2SQL adapter writes its SQL."""
    return (u.statistic or {}).get("kind") not in COMPARISONS + TEMPLATE_STATISTICS


def statistic(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    """Comparisons (years, companies), rankings and counts by template."""
    kind = (u.statistic or {}).get("kind")
    if kind in COMPARISONS:
        result = formula(store, u, settings) if u.formula else _fields(store, u, settings)
        result.kind = "statistic" if result.values else "refusal"
        return result
    field = next((f for f in u.fields if f in store.fields and store.fields[f].unit != "text"), None)
    if field is None or not u.years:
        return _refusal(u, "统计题需要一个数值字段和年份")
    stat = u.statistic or {}
    year, label, filters = u.years[-1], u.field_mentions.get(field, field), stat.get("filters")
    if kind == "count":
        return sql.count(store, field, year, op=stat.get("op", ">"), threshold=stat.get("threshold", 0),
                         threshold_text=stat.get("threshold_text"), filters=filters, field_label=label,
                         settings=settings)
    return sql.rank(store, field, year, order=stat.get("order", "desc"), n=int(stat.get("n", 1)), nth=stat.get("nth"),
                    filters=filters, field_label=label, settings=settings)
