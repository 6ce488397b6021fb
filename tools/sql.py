"""SQL over the wide table: templates for the question shapes analysts ask, and model-written SQL.

Each tool takes plain arguments (codes, years, canonical field names) and returns a ``ToolResult``:

    lookup(store, ["603339"], [2019], ["货币资金"])
    rank(store, "营业收入", 2021, order="desc", n=3)
    count(store, "营业收入", 2021, op=">", threshold="1e10")
    run_generated(store, 'SELECT COUNT(*) AS n FROM company_year WHERE year = 2020')

Every statement goes through :mod:`tools.wide_table` (validated, read-only, bounded).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

from knowledge.configuration import get_settings
from knowledge.store import WIDE_TABLE
from tools.results import ToolResult
from tools.wide_table import MAX_LIMIT, UnsafeSQL, exact, fetch_values, q, run, typed

if TYPE_CHECKING:
    from knowledge.configuration import Settings
    from knowledge.store import Store

FILTER_FIELDS = ("省份", "城市", "行业")
COMPARISONS = (">", ">=", "<", "<=")


# Lookups ---------------------------------------------------------------------------------------
def lookup(store: Store, codes: list[str], years: list[int], fields: list[str], *,
           company_labels: dict[str, str] | None = None, field_labels: dict[str, str] | None = None,
           settings: Settings | None = None) -> ToolResult:
    """Values of ``fields`` for each company and year; what is absent is named in ``missing``.

    ``company_labels`` / ``field_labels`` are how the question named them (answers echo those words).
    """
    if not codes or not years or not fields:
        return ToolResult(kind="refusal", missing=["未识别到公司、年份或字段"])
    settings = settings or get_settings()
    company_labels, field_labels = company_labels or {}, field_labels or {}
    cells, sql = fetch_values(store, list(codes), list(years), list(fields), settings)
    values, missing = [], []
    for code in codes:
        who = company_labels.get(code) or _company_name(store, code)
        for y in years:
            for f in fields:
                cell = cells.get((code, y, f))
                if cell is None:
                    missing.append(f"{y}年{who}的{field_labels.get(f, f)}")
                else:
                    values.append({**cell, "company": who, "mention": field_labels.get(f, f)})
    return ToolResult(kind="lookup" if values else "refusal", values=values, sql=sql, missing=missing,
                      citations=_citations(values))


def _company_name(store: Store, code: str) -> str:
    company = store.company(code)
    return (company.short_name or company.full_name) if company else code


def _citations(values: list[dict]) -> list[dict]:
    return [{"page": v["page"], "text": f"{v['company']}{v['year']}年{v['field']}：{v['value']}", "file": v.get("file")}
            for v in values if v.get("page")]


# Statistics over all companies -----------------------------------------------------------------
def _filters(filters: dict[str, str] | None) -> tuple[str, dict]:
    clauses, params = [], {}
    for i, (name, value) in enumerate(sorted((filters or {}).items())):
        if name in FILTER_FIELDS:
            clauses.append(f" AND y.{q(name)} LIKE :f{i}")
            params[f"f{i}"] = f"%{value}%"
    return "".join(clauses), params


def _numeric_field(store: Store, field: str) -> bool:
    return field in store.fields and store.fields[field].unit != "text"


def count(store: Store, field: str, year: int, *, op: str = ">", threshold: str | float | Decimal = 0,
          threshold_text: str | None = None, filters: dict[str, str] | None = None,
          field_label: str | None = None, settings: Settings | None = None) -> ToolResult:
    """How many companies have ``field`` ``op`` ``threshold`` in ``year`` (optionally within ``filters``)."""
    if not _numeric_field(store, field):
        return ToolResult(kind="refusal", missing=["统计题需要一个数值字段和年份"])
    settings = settings or get_settings()
    where, params = _filters(filters)
    params |= {"year": int(year), "t": float(threshold)}
    op = op if op in COMPARISONS else ">"
    sql = f"SELECT COUNT(*) AS n FROM {WIDE_TABLE} AS y WHERE y.year = :year AND y.{q(field)} {op} :t{where}"
    safe, _c, rows = run(store, sql, params, settings)
    n = int(rows[0][0]) if rows else 0
    return ToolResult(kind="statistic", sql=safe, values=[{
        "company": None, "code": None, "year": int(year), "field": field, "mention": field_label or field,
        "value": n, "unit": "count", "kind": "count", "op": op, "threshold": str(threshold),
        "threshold_text": threshold_text, "page": None, "source": "sql"}])


def rank(store: Store, field: str, year: int, *, order: str = "desc", n: int = 1, nth: int | None = None,
         filters: dict[str, str] | None = None, field_label: str | None = None,
         settings: Settings | None = None) -> ToolResult:
    """The top ``n`` companies by ``field`` in ``year`` (``order`` asc|desc), or only the ``nth``."""
    if not _numeric_field(store, field):
        return ToolResult(kind="refusal", missing=["统计题需要一个数值字段和年份"])
    settings = settings or get_settings()
    where, params = _filters(filters)
    params["year"] = int(year)
    direction = "ASC" if order == "asc" else "DESC"
    n = max(1, min(int(n), MAX_LIMIT))
    limit, offset = (1, max(0, int(nth) - 1)) if nth else (n, 0)
    sql = (f"SELECT y.company_code, c.short_name, c.full_name, y.{q(field)} FROM {WIDE_TABLE} AS y "
           f"JOIN companies AS c ON c.code = y.company_code WHERE y.year = :year AND y.{q(field)} IS NOT NULL{where} "
           f"ORDER BY y.{q(field)} {direction}, y.company_code LIMIT {limit} OFFSET {offset}")
    safe, _c, rows = run(store, sql, params, settings)
    mention = field_label or field
    values = [{"company": short or full, "code": code, "year": int(year), "field": field, "mention": mention,
               "value": exact(typed(store, field, v)), "unit": store.fields[field].unit, "rank": offset + i + 1,
               "order": direction.lower(), "page": None, "source": "sql"}
              for i, (code, short, full, v) in enumerate(rows)]
    if not values:
        return ToolResult(kind="refusal", sql=safe, missing=[f"{year}年的{mention}数据"])
    return ToolResult(kind="statistic", sql=safe, values=values)


# Model-written SQL -----------------------------------------------------------------------------
def run_generated(store: Store, sql: str, *, settings: Settings | None = None) -> ToolResult:
    """Run a statement the NL2SQL model wrote: validated like every other; a statement that fails
    validation or execution is a refusal naming why, never a crash."""
    settings = settings or get_settings()
    try:
        safe, cols, rows = run(store, sql, {}, settings)
    except (UnsafeSQL, Exception) as exc:
        return ToolResult(kind="refusal", sql=sql, missing=[f"生成的SQL未通过校验：{exc}"])
    values = [dict(zip(cols, map(exact, r))) for r in rows]
    return ToolResult(kind="statistic" if values else "refusal", sql=safe, values=values,
                      missing=[] if values else ["未查询到符合条件的数据"])


def strip_model_sql(raw: str) -> str:
    """The statement inside a model reply (code fences, a leading ``sql``, a trailing ``;`` removed). A
    reply that continues a SELECT (「COUNT(*) FROM company_year …」) gets its SELECT; anything else is left
    as written, for validation to refuse (「2000000020 最低02」 is no query to complete)."""
    sql = raw.strip().strip("`").removeprefix("sql").strip()
    if not sql.upper().startswith(("SELECT", "WITH")) and re.search(r"\bFROM\b", sql, re.IGNORECASE):
        sql = "SELECT " + sql
    return sql.rstrip().rstrip(";").rstrip()

