"""Deterministic answers from a tool result, in the house style (templates in knowledge/answers.toml).

「四方科技2019年的货币资金是905402299.44元。」: the company and year first, the field as the user
named it, the exact value with its unit; formulas show inputs, formula and result; refusals start
with 未查询到 and name what is missing. Values of another shape — model-written SQL selects whatever
columns it likes — are shown as the columns they are, or refused; rendering never raises.
"""

from __future__ import annotations

import logging
import re
import tomllib
from decimal import Decimal
from functools import lru_cache
from typing import Any

from knowledge.fields import KNOWLEDGE_DIR
from tools.results import ToolResult

log = logging.getLogger(__name__)

# What every template reads from a value; a value without them did not come from a template tool.
TEMPLATE_KEYS = ("company", "year", "field", "value")
# The columns of a model-written query's result, in the house style (a refusal starts with 未查询到).
GENERATED = {
    "one": "查询结果：{items}。",
    "many": "查询结果共{n}行：{rows}。",
    "more": "（仅列出前{shown}行）",
    "item": "{column}为{value}",
    "null": "无",
    "unusable": "未查询到可用的结果：生成的SQL的查询结果无法使用（{why}），无法回答该问题。",
}
GENERATED_ROWS_SHOWN = 20
SCALARS = (str, int, float, Decimal)


@lru_cache(maxsize=1)
def templates() -> dict[str, Any]:
    return tomllib.loads((KNOWLEDGE_DIR / "answers.toml").read_text(encoding="utf-8"))


def format_value(value: Any, unit: str | None, field: str | None = None) -> str:
    """The exact figure with its unit: 905402299.44元, 17人, 486258户 (a count of ``field``'s own unit), 18.63%,
    text as is."""
    if value is None:
        return ""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    t = templates()
    if unit == "count" and field in t["count_units"]:
        return text + t["count_units"][field]
    return text + t["units"].get(unit or "text", "")


def in_requested_unit(value: Any, unit: str | None, requested: str | None, decimals: int | None = None) -> str | None:
    """「多少亿」: the money figure in that unit, the exact one beside it (1466.95亿元（146695000000元）)."""
    scale = templates()["requested_units"].get(requested or "")
    if unit != "money" or scale is None:
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    places = Decimal(1).scaleb(-(2 if decimals is None else decimals))
    scaled = (number / Decimal(scale)).quantize(places)
    return templates()["notes"]["unit_requested"].format(value=format(scaled, "f"), unit=requested,
                                                         exact=format_value(value, unit))


def render(u, result: ToolResult) -> str:
    t = templates()
    if result.text and result.kind in ("glossary", "passages", "refusal"):
        return result.text + (year_note(u) if result.kind != "glossary" else "")
    if result.kind == "refusal" or not result.values and not result.formula:
        return refusal(u, result) + year_note(u)
    if result.kind == "glossary" and result.formula:
        return _explain(u, result)
    requested = getattr(u, "unit_request", None)
    if requested:
        for v in result.values:
            if isinstance(v, dict) and ("display" not in v or v.get("source") == "formula"):
                shown = in_requested_unit(v.get("value"), v.get("unit"), requested, getattr(u, "decimals", None))
                if shown:
                    v["display"] = shown
    text = _figures(u, result)
    if result.missing:
        text += t["refusal"]["partial"].format(what="、".join(result.missing))
    return text + year_note(u)


def year_note(u) -> str:
    """What an answer adds when the question named no year and the latest held one was taken."""
    year = getattr(u, "year_assumed", None)
    return templates()["notes"]["year_assumed"].format(year=year) if year else ""


def _figures(u, result: ToolResult) -> str:
    """The template for the question's shape, or the plain columns when the values are not a template's."""
    if not all(isinstance(v, dict) and all(k in v for k in TEMPLATE_KEYS) for v in result.values):
        return _generated(result.values)
    try:
        return _template(u, result)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        # A turn must not fail on a value the template did not expect; the plain columns still answer.
        log.warning("answer template failed on %s values; rendering the columns", result.kind, exc_info=True)
        return _generated(result.values)


def _template(u, result: ToolResult) -> str:
    if result.kind == "segment":
        return _segment(result)
    stat = (u.statistic or {}).get("kind") if u is not None else None
    if stat == "compare_years":
        return _compare_years(u, result)
    if stat == "compare_companies":
        return _compare_companies(u, result)
    if stat == "rank":
        return _rank(u, result)
    if stat == "count":
        return _count(result)
    if result.formula:
        return _formula(u, result)
    return _lookup(result)


def _segment(result: ToolResult) -> str:
    """「生物股份2020年生物制药业务的毛利率是62.95%（主营业务分行业情况，第14页）。」: each figure cites its table."""
    t = templates()["segment"]
    items = [t["item"].format(company=v["company"], year=v["year"], field=v["field"], value=_display(v),
                              table=v["table"], page=v["page"]) for v in result.values]
    return t["done"].format(items=t["joiner"].join(items))


def _generated(rows: list[Any]) -> str:
    """Rows of arbitrary columns (a model-written query's result): each column named with its value, or a
    refusal naming why the result cannot be used."""
    why = _unusable(rows)
    if why:
        return GENERATED["unusable"].format(why=why)
    if len(rows) == 1:
        return GENERATED["one"].format(items=_row(rows[0]))
    shown = rows[:GENERATED_ROWS_SHOWN]
    text = GENERATED["many"].format(n=len(rows), rows="；".join(_row(r) for r in shown))
    return text + (GENERATED["more"].format(shown=len(shown)) if len(rows) > len(shown) else "")


def _unusable(rows: list[Any]) -> str | None:
    if not rows:
        return "没有返回任何行"
    if not all(isinstance(r, dict) and r for r in rows):
        return "结果不是带列名的表格"
    odd = next((v for r in rows for v in r.values() if v is not None and not isinstance(v, SCALARS)), None)
    if odd is not None:
        return f"结果含无法显示的值：{type(odd).__name__}"
    return None


def _row(row: dict) -> str:
    return "，".join(GENERATED["item"].format(column=column, value=_cell(value)) for column, value in row.items())


def _cell(value: Any) -> str:
    return GENERATED["null"] if value is None else format_value(value, None)


def refusal(u, result: ToolResult) -> str:
    t = templates()["refusal"]
    if u is not None and u.intent == "其他" and not result.missing and not u.problems:
        return t["other"]
    if result.missing:
        return t["missing"].format(what="、".join(result.missing))
    if u is not None and u.problems:
        return t["problems"].format(problems="；".join(u.problems))
    return t["unsupported"]


def _group(values: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for v in values:
        groups.setdefault((v["company"], v["year"]), []).append(v)
    return groups


def _display(v: dict) -> str:
    return (v.get("display") or format_value(v["value"], v.get("unit"), v.get("field"))) + _loss_note(v)


def _loss_note(v: dict) -> str:
    """信用减值损失 -48939000000元: a loss printed with its sign is a loss of that amount (and says so)."""
    notes = templates()["notes"]
    if v.get("unit") != "money" or not str(v.get("field", "")).endswith(notes["loss_suffix"]):
        return ""
    try:
        number = Decimal(str(v["value"]))
    except ArithmeticError:
        return ""
    if number >= 0:
        return ""
    amount = in_requested_unit(-number, "money", "亿元" if -number >= 10 ** 8 else "万元")
    return notes["negative_loss"].format(amount=amount.split("（")[0] if amount else format_value(-number, "money"))


def _label(v: dict) -> str:
    return v.get("mention") or v["field"]


def _earlier_column_note(t: dict, year: int, vals: list[dict]) -> str:
    """Where figures come from a later report's earlier-year columns: which report, and which column."""
    later = sorted({v.get("report_year") or year + 1 for v in vals if v.get("source") == "report_prior_year"})
    if not later:
        return ""
    report_year = later[-1]
    key = "prior_year_note" if report_year == year + 1 else "earlier_year_note"
    return t[key].format(report_year=report_year, year=year)


def _lookup(result: ToolResult) -> str:
    t = templates()["lookup"]
    parts = []
    for (company, year), vals in _group(result.values).items():
        if len(vals) == 1:
            sentence = t["one"].format(company=company, year=year, field=_label(vals[0]), value=_display(vals[0]))
        else:
            items = t["joiner"].join(t["item"].format(field=_label(v), value=_display(v)) for v in vals)
            sentence = t["many"].format(company=company, year=year, items=items)
        if note := _earlier_column_note(t, year, vals):
            sentence = sentence.removesuffix("。") + note + "。"
        for awkward, better in t["collapse"]:
            sentence = sentence.replace(awkward, better)
        parts.append(sentence)
    return "".join(parts)


def _formula(u, result: ToolResult) -> str:
    t = templates()["formula"]
    parts = []
    expression = (result.formula or {}).get("expression", "")
    for v in result.values:
        if v.get("source") != "formula":
            parts.append(_lookup(ToolResult(kind="lookup", values=[v])))
            continue
        inputs = "、".join(t["item"].format(label=k, value=val) for k, val in (v.get("inputs") or {}).items())
        parts.append(t["done"].format(company=v["company"], year=v["year"], inputs=inputs, expression=expression,
                                      name=v["field"], result=v["display"]))
    return (result.formula or {}).get("note", "") + "".join(parts)


def _explain(u, result: ToolResult) -> str:
    t = templates()["formula"]
    f = result.formula or {}
    return t["explain"].format(name=f.get("name", ""), expression=f.get("expression", ""))


def _compare_years(u, result: ToolResult) -> str:
    t = templates()["compare_years"]
    parts = []
    by_company_field: dict[tuple, list[dict]] = {}
    for v in result.values:
        by_company_field.setdefault((v["company"], v["field"]), []).append(v)
    for (company, _field), vals in by_company_field.items():
        vals.sort(key=lambda v: v["year"])
        # The verdict compares the text as the reports record it (the challenge's convention); when the
        # records differ only in spacing (孙 毅 / 孙毅) the answer says so instead of hiding it.
        same = len({str(v["value"]) for v in vals}) == 1
        spacing_only = not same and len({re.sub(r"\s+", "", str(v["value"])) for v in vals}) == 1
        # With a year missing there is nothing to compare against: no verdict (the missing year is named).
        verdict = t["unknown"] if len(vals) < len(u.years) else t["same"] if same else \
            t["different"] + t["spacing_only"] if spacing_only else t["different"]
        items = "，".join(t["item"].format(year=v["year"], field=_label(v), value=_display(v)) for v in vals)
        parts.append(t["done"].format(verdict=verdict, company=company, items=items))
    return "".join(parts)


def _compare_companies(u, result: ToolResult) -> str:
    t = templates()["compare_companies"]
    parts = []
    by_year_field: dict[tuple, list[dict]] = {}
    for v in result.values:
        by_year_field.setdefault((v["year"], v["field"]), []).append(v)
    for (year, _f), vals in by_year_field.items():
        items = "；".join(t["item"].format(company=v["company"], year=year, field=_label(v), value=_display(v))
                         for v in vals)
        verdict = ""
        numbers = [(Decimal(str(v["value"])), v) for v in vals if _is_number(v["value"])]
        if len(numbers) >= 2:
            top = max(numbers, key=lambda p: p[0])
            if all(n == top[0] for n, _ in numbers):
                verdict = t["equal"].format(field=_label(top[1]))
            else:
                verdict = t["higher"].format(company=top[1]["company"], field=_label(top[1]))
        parts.append(t["done"].format(items=items, verdict=verdict))
    return "".join(parts)


def _is_number(value: Any) -> bool:
    try:
        Decimal(str(value))
        return not isinstance(value, str) or value.replace(".", "", 1).lstrip("-").isdigit()
    except Exception:
        return False


def _rank(u, result: ToolResult) -> str:
    t = templates()["rank"]
    stat = u.statistic or {}
    first = result.values[0]
    order = t[first.get("order", "desc")]
    short = t[first.get("order", "desc") + "_short"]
    if stat.get("nth"):
        return t["nth"].format(year=first["year"], field=_label(first), nth=stat["nth"], order_short=short,
                               company=first["company"], value=_display(first))
    if len(result.values) == 1:
        return t["one"].format(year=first["year"], field=_label(first), order=order, company=first["company"],
                               value=_display(first))
    items = "；".join(t["item"].format(rank=v["rank"], company=v["company"], value=_display(v)) for v in result.values)
    return t["top"].format(year=first["year"], field=_label(first), order=order, n=len(result.values), items=items)


def _count(result: ToolResult) -> str:
    v = result.values[0]
    return templates()["count"]["done"].format(year=v["year"], field=_label(v), condition=v.get("threshold_text") or "",
                                               n=v["value"])
