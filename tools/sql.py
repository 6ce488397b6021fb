"""SQL over the wide table: templates for the question shapes analysts ask, NL2SQL for the rest.

Every statement — template or model-written — goes through :func:`validate` (sqlglot: exactly one
SELECT, only whitelisted tables and columns, known functions, LIMIT enforced) and runs on the store's
read-only connection with a timeout. Question text never reaches SQL except as bound parameters.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from agent.store import WIDE_TABLE
from tools.results import ToolResult

if TYPE_CHECKING:
    from agent.configuration import Settings
    from agent.store import Store
    from agent.understanding import Understanding

MAX_LIMIT = 200
COMPANY_COLUMNS = ("code", "full_name", "short_name")  # aliases stay out of reach
ALLOWED_FUNCTIONS = (exp.Count, exp.Sum, exp.Avg, exp.Max, exp.Min, exp.Abs, exp.Round, exp.Cast, exp.Coalesce,
                     exp.Length, exp.Lower, exp.Upper)
FILTER_FIELDS = ("省份", "城市", "行业")
# Writes and side effects anywhere in the tree (a SELECT can hide one in a CTE or subquery).
FORBIDDEN_NODES = tuple(getattr(exp, name) for name in (
    "Insert", "Update", "Delete", "Drop", "Create", "Alter", "Command", "Pragma", "Attach", "Detach", "Merge",
    "Copy", "Set", "Transaction", "Commit", "Rollback") if hasattr(exp, name))


class UnsafeSQL(ValueError):
    """A statement that is not a single SELECT over the whitelisted schema."""


def allowed_columns(store: Store) -> set[str]:
    return {c.name for c in store.t[WIDE_TABLE].columns} | set(COMPANY_COLUMNS)


_VALIDATED: dict[tuple[str, int, str, int], str] = {}


def validate(sql: str, store: Store, *, max_limit: int = MAX_LIMIT) -> str:
    """The statement, re-serialised with a LIMIT of at most ``max_limit``; raises UnsafeSQL otherwise.

    Validation is a pure function of the text and the schema, and parsing costs more than running a
    lookup, so accepted statements are remembered (templates repeat with new bound parameters).
    """
    key = (sql, max_limit, store.url, len(store.t[WIDE_TABLE].columns))
    if key in _VALIDATED:
        return _VALIDATED[key]
    safe = _validate(sql, store, max_limit)
    if len(_VALIDATED) > 4096:
        _VALIDATED.clear()
    _VALIDATED[key] = safe
    return safe


def _validate(sql: str, store: Store, max_limit: int) -> str:
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise UnsafeSQL(f"不是合法的SQL：{exc}") from exc
    if len(statements) != 1:
        raise UnsafeSQL("只允许一条语句")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise UnsafeSQL(f"只允许SELECT，得到 {tree.key}")
    for node in tree.walk():
        if isinstance(node, FORBIDDEN_NODES):
            raise UnsafeSQL(f"不允许的语句：{node.key}")
        if isinstance(node, exp.Func) and not isinstance(node, ALLOWED_FUNCTIONS + (exp.Connector, exp.Binary)):
            raise UnsafeSQL(f"不允许的函数：{node.sql()}")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name not in (WIDE_TABLE, "companies") and table.name not in ctes:
            raise UnsafeSQL(f"不允许的表：{table.name}")
        if table.args.get("db") or table.args.get("catalog"):
            raise UnsafeSQL("不允许跨库访问")
    columns = allowed_columns(store)
    aliases = {a.alias for a in tree.find_all(exp.Alias)}
    for col in tree.find_all(exp.Column):
        if col.name not in columns and col.name not in aliases:
            raise UnsafeSQL(f"不允许的列：{col.name}")
    limit = tree.args.get("limit")
    value = None
    if limit is not None:
        expr = limit.expression
        value = int(expr.this) if isinstance(expr, exp.Literal) and expr.is_int else None
    if value is None or value > max_limit:
        tree = tree.limit(max_limit if value is None else min(value, max_limit))
    return tree.sql(dialect="sqlite")


def run(store: Store, sql: str, params: dict, settings: Settings) -> tuple[str, list[str], list[tuple]]:
    safe = validate(sql, store)
    cols, rows = store.readonly_query(safe, params, timeout_s=settings.sql_timeout_s)
    return safe, cols, rows


def q(name: str) -> str:
    """A quoted column name (names come from the field dictionary; quotes are escaped regardless)."""
    return '"' + name.replace('"', '""') + '"'


def _typed(store: Store, field: str, value: Any):
    """The driver's value as the store's type: SQLite returns doubles; repr is the exact figure."""
    if value is None:
        return None
    unit = store.fields[field].unit if field in store.fields else "text"
    if unit == "text":
        return str(value)
    if unit == "count":
        return int(value)
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _exact(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


@lru_cache(maxsize=4096)
def _in_list(prefix: str, n: int) -> str:
    return ", ".join(f":{prefix}{i}" for i in range(n))


def fetch_values(store: Store, codes: list[str], years: list[int], fields: list[str], settings: Settings
                 ) -> tuple[dict[tuple[str, int, str], dict], str]:
    """{(code, year, field): value dict} for a company×year×field block, with provenance."""
    fields = [f for f in fields if f in store.fields]
    cols = ", ".join(f"y.{q(f)}" for f in fields) or "y.year"
    sql = (f"SELECT y.company_code, c.short_name, c.full_name, y.year, {cols} "
           f"FROM {WIDE_TABLE} AS y JOIN companies AS c ON c.code = y.company_code "
           f"WHERE y.company_code IN ({_in_list('c', len(codes))}) AND y.year IN ({_in_list('y', len(years))}) "
           f"ORDER BY y.company_code, y.year LIMIT {MAX_LIMIT}")
    params = {f"c{i}": c for i, c in enumerate(codes)} | {f"y{i}": int(y) for i, y in enumerate(years)}
    safe, _cols, rows = run(store, sql, params, settings)
    out: dict[tuple[str, int, str], dict] = {}
    for row in rows:
        code, short, full, year = row[:4]
        present = {f: _typed(store, f, v) for f, v in zip(fields, row[4:]) if v is not None}
        prov = _provenance(store, code, year, list(present))
        for f, v in present.items():
            p = prov.get(f, {})
            out[(code, year, f)] = {"company": short or full, "code": code, "year": year, "field": f,
                                    "value": _exact(v), "unit": store.fields[f].unit, "page": p.get("page"),
                                    "source": p.get("source"), "file": p.get("file_name")}
    return out, safe


def _provenance(store: Store, code: str, year: int, fields: list[str]) -> dict[str, dict]:
    if not fields:
        return {}
    best: dict[str, dict] = {}
    for p in store.provenance(code, year, fields):  # best source first
        best.setdefault(p["field"], p)
    return best


# Lookups ---------------------------------------------------------------------------------------
def answer_lookup(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    """Values of the fields asked for each company and year; what is absent is named in ``missing``.

    A figure analysts ask for like a reported one but that is computed (每股净资产) comes from the
    formula chain, merged with the looked-up fields of the same question.
    """
    if u.formula:
        from tools.formula import answer_formula

        computed = answer_formula(store, u, settings)
        if not u.fields:
            return computed
        return _merge(_lookup(store, u, settings), computed)
    return _lookup(store, u, settings)


def _merge(a: ToolResult, b: ToolResult) -> ToolResult:
    return ToolResult(kind="formula" if b.values else a.kind if a.values else "refusal", values=a.values + b.values,
                      sql=a.sql or b.sql, formula=b.formula if b.values else None,
                      citations=a.citations + b.citations, missing=a.missing + b.missing)


def _lookup(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    if not u.companies or not u.years or not u.fields:
        return ToolResult(kind="refusal", missing=list(u.problems) or ["未识别到公司、年份或字段"])
    codes = [c.code for c in u.companies]
    cells, sql = fetch_values(store, codes, u.years, u.fields, settings)
    values, missing = [], []
    for c in u.companies:
        for y in u.years:
            for f in u.fields:
                cell = cells.get((c.code, y, f))
                who = c.mention or c.short_name or c.name
                if cell is None:
                    missing.append(f"{y}年{who}的{u.field_mentions.get(f, f)}")
                else:
                    values.append({**cell, "company": who, "mention": u.field_mentions.get(f, f)})
    return ToolResult(kind="lookup" if values else "refusal", values=values, sql=sql, missing=missing,
                      citations=_citations(values))


def _citations(values: list[dict]) -> list[dict]:
    return [{"page": v["page"], "text": f"{v['company']}{v['year']}年{v['field']}：{v['value']}", "file": v.get("file")}
            for v in values if v.get("page")]


# Statistics ------------------------------------------------------------------------------------
def answer_statistic(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    kind = (u.statistic or {}).get("kind")
    if kind in ("compare_years", "compare_companies"):
        if u.formula:
            from tools.formula import answer_formula

            result = answer_formula(store, u, settings)
            result.kind = "statistic" if result.values else "refusal"
            return result
        result = _lookup(store, u, settings)
        result.kind = "statistic" if result.values else "refusal"
        return result
    if kind in ("rank", "count"):
        return _rank_or_count(store, u, settings, kind)
    return nl2sql(store, u, settings)


def _filters(u: Understanding) -> tuple[str, dict]:
    clauses, params = [], {}
    for i, (name, value) in enumerate(sorted((u.statistic or {}).get("filters", {}).items())):
        if name in FILTER_FIELDS:
            clauses.append(f" AND y.{q(name)} LIKE :f{i}")
            params[f"f{i}"] = f"%{value}%"
    return "".join(clauses), params


def _rank_or_count(store: Store, u: Understanding, settings: Settings, kind: str) -> ToolResult:
    stat = u.statistic or {}
    field = next((f for f in u.fields if f in store.fields and store.fields[f].unit != "text"), None)
    if field is None or not u.years:
        return ToolResult(kind="refusal", missing=list(u.problems) or ["统计题需要一个数值字段和年份"])
    year = u.years[-1]
    where, params = _filters(u)
    params["year"] = year
    mention = u.field_mentions.get(field, field)
    if kind == "count":
        op = {">": ">", ">=": ">=", "<": "<", "<=": "<="}.get(stat.get("op"), ">")
        params["t"] = float(stat.get("threshold", 0))
        sql = (f"SELECT COUNT(*) AS n FROM {WIDE_TABLE} AS y WHERE y.year = :year AND y.{q(field)} {op} :t{where}")
        safe, _c, rows = run(store, sql, params, settings)
        n = int(rows[0][0]) if rows else 0
        return ToolResult(kind="statistic", sql=safe, values=[{
            "company": None, "code": None, "year": year, "field": field, "mention": mention, "value": n,
            "unit": "count", "kind": "count", "op": op, "threshold": stat.get("threshold"),
            "threshold_text": stat.get("threshold_text"), "page": None, "source": "sql"}])
    order = "ASC" if stat.get("order") == "asc" else "DESC"
    n = max(1, min(int(stat.get("n", 1)), MAX_LIMIT))
    nth = stat.get("nth")
    limit, offset = (1, int(nth) - 1) if nth else (n, 0)
    sql = (f"SELECT y.company_code, c.short_name, c.full_name, y.{q(field)} FROM {WIDE_TABLE} AS y "
           f"JOIN companies AS c ON c.code = y.company_code WHERE y.year = :year AND y.{q(field)} IS NOT NULL{where} "
           f"ORDER BY y.{q(field)} {order}, y.company_code LIMIT {limit} OFFSET {max(0, offset)}")
    safe, _c, rows = run(store, sql, params, settings)
    values = [{"company": short or full, "code": code, "year": year, "field": field, "mention": mention,
               "value": _exact(_typed(store, field, v)), "unit": store.fields[field].unit, "rank": offset + i + 1,
               "order": order.lower(), "page": None, "source": "sql"}
              for i, (code, short, full, v) in enumerate(rows)]
    if not values:
        return ToolResult(kind="refusal", sql=safe, missing=[f"{year}年的{mention}数据"])
    return ToolResult(kind="statistic", sql=safe, values=values)


# NL2SQL ------------------------------------------------------------------------------------------
def nl2sql(store: Store, u: Understanding, settings: Settings) -> ToolResult:
    """What the templates don't cover, through the nl2sql adapter; refused in embedded mode."""
    from agent.llm import LLMUnavailable, complete

    if not settings.llm.enabled:
        return ToolResult(kind="refusal", missing=["该统计问题暂不支持（未配置NL2SQL模型）"])
    from graph.prompts import adapter_messages, nl2sql_user

    entities = [(c.mention or c.short_name or c.name, c.code) for c in u.companies]
    user = nl2sql_user(u.question, list(u.fields), entities)
    try:
        raw = complete(settings, "nl2sql", adapter_messages("nl2sql", user))
    except LLMUnavailable as exc:
        return ToolResult(kind="refusal", missing=[f"该统计问题暂不支持（{exc}）"])
    sql = raw.strip().strip("`").removeprefix("sql").strip()
    if not sql.upper().startswith(("SELECT", "WITH")):
        sql = "SELECT " + sql
    sql = re.split(r";\s*$", sql)[0]
    try:
        safe, cols, rows = run(store, sql, {}, settings)
    except (UnsafeSQL, Exception) as exc:  # a bad model statement is a refusal, never a crash
        return ToolResult(kind="refusal", sql=sql, missing=[f"生成的SQL未通过校验：{exc}"])
    values = [dict(zip(cols, map(_exact, r))) for r in rows]
    return ToolResult(kind="statistic" if values else "refusal", sql=safe, values=values,
                      missing=[] if values else ["未查询到符合条件的数据"])
