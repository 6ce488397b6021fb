"""The read-only SQL surface every tool reads the wide table through.

Every statement — template or model-written — goes through :func:`validate` (sqlglot: exactly one
SELECT, only whitelisted tables and columns, known functions, LIMIT enforced) and runs on the store's
read-only connection with a timeout. Question text never reaches SQL except as bound parameters.
:func:`fetch_values` is the one company × year × field read, with provenance, that the SQL and
formula tools share.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from knowledge.store import WIDE_TABLE

if TYPE_CHECKING:
    from knowledge.configuration import Settings
    from knowledge.store import Store

MAX_LIMIT = 200
COMPANY_COLUMNS = ("code", "full_name", "short_name")  # aliases stay out of reach
ALLOWED_FUNCTIONS = (exp.Count, exp.Sum, exp.Avg, exp.Max, exp.Min, exp.Abs, exp.Round, exp.Cast, exp.Coalesce,
                     exp.Length, exp.Lower, exp.Upper)
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


def typed(store: Store, field: str, value: Any):
    """The driver's value as the store's type: SQLite returns doubles; repr is the exact figure."""
    if value is None:
        return None
    unit = store.fields[field].unit if field in store.fields else "text"
    if unit == "text":
        return str(value)
    if unit == "count":
        return int(value)
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def exact(value: Any) -> Any:
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
        present = {f: typed(store, f, v) for f, v in zip(fields, row[4:]) if v is not None}
        prov = _provenance(store, code, year, list(present))
        for f, v in present.items():
            p = prov.get(f, {})
            out[(code, year, f)] = {"company": short or full, "code": code, "year": year, "field": f,
                                    "value": exact(v), "unit": store.fields[f].unit, "page": p.get("page"),
                                    "source": p.get("source"), "file": p.get("file_name")}
    return out, safe


def _provenance(store: Store, code: str, year: int, fields: list[str]) -> dict[str, dict]:
    if not fields:
        return {}
    best: dict[str, dict] = {}
    for p in store.provenance(code, year, fields):  # best source first
        best.setdefault(p["field"], p)
    return best
