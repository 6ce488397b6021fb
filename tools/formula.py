"""The formula chain: a formula of ``knowledge/formulas.toml`` evaluated on the wide table's values.

    compute_formula(store, "营业利润率", ["600201"], [2020], decimals=2)
    explain_formula("营业利润率")

Inputs come from :func:`tools.wide_table.fetch_values` (with their pages); ``上年X`` reads the prior
year's row. Exact decimals throughout; a missing input or a zero denominator is named, never guessed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from knowledge.configuration import get_settings
from knowledge.formulas import PRIOR, FormulaDef, evaluate, get_formula, round_output
from tools.results import ToolResult
from tools.wide_table import fetch_values

if TYPE_CHECKING:
    from knowledge.configuration import Settings
    from knowledge.store import Store


def compute(store: Store, f: FormulaDef, code: str, year: int, settings: Settings, decimals: int | None = None
            ) -> dict[str, Any]:
    """One company-year: {name, expression, inputs, result, display, decimals, missing, values, sql}."""
    inputs = f.inputs
    years = sorted({year + i.offset for i in inputs})
    rows, sql = fetch_values(store, [code], years, sorted({i.field for i in inputs}), settings)
    env: dict[str, Decimal] = {}
    shown: dict[str, str] = {}
    missing: list[str] = []
    values: list[dict] = []
    for i in inputs:
        cell = rows.get((code, year + i.offset, i.field))
        if cell is None or cell["value"] is None:
            missing.append((year + i.offset, i.label.removeprefix(PRIOR) if i.offset else i.label))
            continue
        env[i.label] = Decimal(str(cell["value"]))
        shown[i.label] = _display_number(cell)
        values.append({**cell, "label": i.label})
    out = {"name": f.name, "expression": f.display, "inputs": shown, "result": None, "display": None,
           "decimals": f.decimals if decimals is None else decimals, "missing": missing, "values": values,
           "sql": sql, "year": year, "code": code}
    if missing:
        return out
    try:
        raw = evaluate(f.expression, env)
    except ZeroDivisionError:
        out["zero_division"] = True
        return out
    number, display = round_output(f, raw, decimals)
    out["result"], out["display"] = str(number), display
    return out


def _display_number(cell: dict) -> str:
    unit = {"money": "元", "count": "人", "percent": "%"}.get(cell.get("unit"), "")
    return f"{cell['value']}{unit}"


def explain_formula(name: str, decimals: int | None = None) -> ToolResult:
    """How a formula is computed (「这个比率是怎么算的？」), without computing it."""
    f = get_formula(name or "")
    if f is None:
        return ToolResult(kind="refusal", missing=[f"未识别到公式：{name or ''}".rstrip("：")])
    return ToolResult(kind="glossary", formula={"name": f.name, "expression": f.display, "inputs": {},
                                                "result": None, "decimals": decimals})


def compute_formula(store: Store, name: str, codes: list[str], years: list[int], *, decimals: int | None = None,
                    company_labels: dict[str, str] | None = None, settings: Settings | None = None) -> ToolResult:
    """``name`` (a formula or one of its synonyms) for each company and year, with its inputs and pages."""
    f = get_formula(name or "")
    if f is None:
        return ToolResult(kind="refusal", missing=[f"未识别到公式：{name or ''}".rstrip("：")])
    if not codes or not years:
        return ToolResult(kind="refusal", missing=["未识别到公司或年份"])
    settings = settings or get_settings()
    company_labels = company_labels or {}
    results = [compute(store, f, code, y, settings, decimals) for code in codes for y in years]
    values, missing = [], []
    for r in results:
        who = company_labels.get(r["code"]) or r["code"]
        if r["result"] is None:
            if r.get("zero_division"):
                missing.append(f"{r['year']}年{who}的{f.name}（分母为0，无法计算）")
            by_year: dict[int, list[str]] = {}
            for y, label in r["missing"]:
                by_year.setdefault(y, []).append(label)
            missing.extend(f"{y}年{who}的" + "、".join(labels) for y, labels in sorted(by_year.items(), reverse=True))
            continue
        values.append({"company": who, "code": r["code"], "year": r["year"],
                       "field": f.name, "value": r["result"], "display": r["display"], "unit": f.output,
                       "inputs": r["inputs"], "page": None, "source": "formula"})
    first = next((r for r in results if r["result"] is not None), results[0])
    formula = {k: first[k] for k in ("name", "expression", "inputs", "result", "decimals")}
    formula["display"] = first["display"]
    citations = [{"page": v["page"], "text": f"{v['year']}年{v['field']}：{v['value']}", "file": v.get("file")}
                 for r in results for v in r["values"] if v.get("page")]
    return ToolResult(kind="formula" if values else "refusal", values=values, sql=first["sql"], formula=formula,
                      citations=citations, missing=missing)
