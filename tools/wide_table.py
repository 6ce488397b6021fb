"""The read-only SQL surface every tool reads the wide table through.

Every statement — template or model-written — goes through :func:`validate` and runs on the store's
read-only connection with a timeout. Question text never reaches SQL except as bound parameters.

:func:`validate` parses once (sqlglot) and checks the tree: exactly one SELECT or set operation of
SELECTs; every table reference resolved by scope to the wide table, ``companies`` or a CTE visible where it
stands (a CTE or derived-table alias named like a real table never lets that table through elsewhere);
no catalogs, schema-qualified names or table-valued functions; known functions; columns that the wide
table, companies' allowed columns or an alias in scope define; a LIMIT on the outermost query. What runs
is the checked tree's own serialisation. tests/test_sql_guard.py fuzzes it with SQLite as the judge.
:func:`fetch_values` is the one company × year × field read, with provenance, that the SQL and
formula tools share.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from knowledge.store import WIDE_TABLE

if TYPE_CHECKING:
    from knowledge.configuration import Settings
    from knowledge.store import Store

MAX_LIMIT = 200
REAL_TABLES = (WIDE_TABLE, "companies")  # the only tables a statement may read
COMPANY_COLUMNS = ("code", "full_name", "short_name")  # aliases stay out of reach
ALLOWED_FUNCTIONS = (exp.Count, exp.Sum, exp.Avg, exp.Max, exp.Min, exp.Abs, exp.Round, exp.Cast, exp.Coalesce,
                     exp.Length, exp.Lower, exp.Upper)
# Writes and side effects anywhere in the tree (a SELECT can hide one in a CTE or subquery; SELECT … INTO
# is serialised as CREATE TABLE … AS).
FORBIDDEN_NODES = tuple(getattr(exp, name) for name in (
    "Insert", "Update", "Delete", "Drop", "Create", "Alter", "Command", "Pragma", "Attach", "Detach", "Merge",
    "Copy", "Set", "Transaction", "Commit", "Rollback", "Into") if hasattr(exp, name))
# Catalogs, whatever they are called or aliased to: the schema is described to the model, never read.
SYSTEM_NAMES = ("sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema", "pg_catalog",
                "information_schema")
SYSTEM_PREFIXES = ("sqlite_", "pragma_", "pg_")
# What a SELECT (or a set operation of SELECTs) may carry; anything else (hints, QUALIFY, TABLESAMPLE,
# locks …) is another dialect's, and SQLite would read the serialised text differently or not at all.
QUERY_ARGS = {"with_", "expressions", "distinct", "from_", "joins", "where", "group", "having", "windows",
              "order", "limit", "offset", "this", "expression", "by_name"}
TABLE_ARGS = {"this", "alias", "db", "catalog"}
CTE_ARGS = {"this", "alias", "materialized"}
WITH_ARGS = {"expressions", "recursive"}
FROM_ITEMS = (exp.Table, exp.Subquery, exp.Values)
BINARY_LITERALS = tuple(getattr(exp, name) for name in ("HexString", "ByteString") if hasattr(exp, name))
BINARY_TYPES = ("blob", "binary", "varbinary")


class UnsafeSQL(ValueError):
    """A statement that is not a single SELECT over the whitelisted schema."""


def fold(name: str) -> str:
    """An identifier as SQLite compares it: ASCII letters case-folded, nothing else (SQLite does not fold
    full-width or other non-ASCII letters, so neither may we: ``str.lower`` maps the Kelvin sign to k)."""
    return name.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def allowed_columns(store: Store) -> set[str]:
    return {c.name for c in store.t[WIDE_TABLE].columns} | set(COMPANY_COLUMNS)


def forbidden_columns(store: Store) -> set[str]:
    """Columns of the readable tables that stay out of reach (companies.aliases), folded."""
    return {fold(c.name) for c in store.t["companies"].columns} - {fold(c) for c in allowed_columns(store)}


_VALIDATED: dict[tuple[str, int, str, int], str] = {}


def validate(sql: str, store: Store, *, max_limit: int = MAX_LIMIT) -> str:
    """The statement, re-serialised with a LIMIT of at most ``max_limit``; raises UnsafeSQL otherwise.

    Validation is a pure function of the text and the schema, and parsing costs more than running a
    lookup, so accepted statements are remembered (templates repeat with new bound parameters).
    """
    key = (sql, max_limit, store.url, len(store.t[WIDE_TABLE].columns))
    if key in _VALIDATED:
        return _VALIDATED[key]
    try:
        safe = _validate(sql, store, max_limit)
    except UnsafeSQL:
        raise
    except Exception as exc:  # fail closed: hostile text can trip the parser or a check in unforeseen ways
        raise UnsafeSQL(f"无法校验该SQL：{type(exc).__name__}: {exc}") from exc
    if len(_VALIDATED) > 4096:
        _VALIDATED.clear()
    _VALIDATED[key] = safe
    return safe


def _validate(sql: str, store: Store, max_limit: int) -> str:
    """Parse once, check the resolved tree, and return the tree's own serialisation: what runs is what
    was checked (comments dropped, so nothing SQLite might read differently from sqlglot survives)."""
    tree = _parse_one(sql)
    _check_shape(tree)
    _check_nodes(tree, forbidden_columns(store))
    _Resolver(store).check(tree)
    _enforce_limit(tree, max_limit)
    try:
        return tree.sql(dialect="sqlite", comments=False, unsupported_level=ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:  # a construct SQLite has no spelling for
        raise UnsafeSQL(f"SQLite不支持该写法：{exc}") from exc


def _parse_one(sql: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except (sqlglot.errors.SqlglotError, RecursionError) as exc:
        raise UnsafeSQL(f"不是合法的SQL：{exc}") from exc
    if len(statements) != 1:
        raise UnsafeSQL("只允许一条语句")
    return statements[0]


def _check_shape(tree: exp.Expression) -> None:
    """A SELECT, or a set operation (UNION, INTERSECT, EXCEPT) whose every branch is one."""
    if isinstance(tree, exp.SetOperation):
        for branch in (tree.this, tree.expression):
            _check_shape(branch)
    elif not isinstance(tree, exp.Select):
        raise UnsafeSQL(f"只允许SELECT，得到 {tree.key}")


def _check_nodes(tree: exp.Expression, forbidden: set[str]) -> None:
    """Node by node: no writes, known functions, no catalog names, no SQLite-only table reads that sqlglot
    does not parse as tables (``x IN reports``), nothing another dialect's."""
    for node in tree.walk():
        if isinstance(node, FORBIDDEN_NODES):
            raise UnsafeSQL(f"不允许的语句：{node.key}")
        if isinstance(node, exp.Func) and not isinstance(node, ALLOWED_FUNCTIONS + (exp.Connector, exp.Binary)):
            raise UnsafeSQL(f"不允许的函数：{node.sql()}")
        if isinstance(node, exp.Identifier):
            _check_identifier(node, forbidden)
        elif isinstance(node, (exp.Select, exp.SetOperation)):
            extra = sorted(k for k, v in node.args.items() if v not in (None, [], False) and k not in QUERY_ARGS)
            if extra:
                raise UnsafeSQL(f"不支持的子句：{'、'.join(extra)}")
            if isinstance(node, exp.SetOperation) and _has_with(node.expression):
                raise UnsafeSQL("WITH 只能写在整条组合查询之前")
        elif isinstance(node, exp.In) and node.args.get("field") is not None:
            raise UnsafeSQL("IN 之后只允许值列表或子查询")  # SQLite reads `x IN name` as a whole table
        elif isinstance(node, exp.Join):
            _check_join(node)
        elif isinstance(node, (exp.With, exp.CTE)):
            allowed = WITH_ARGS if isinstance(node, exp.With) else CTE_ARGS
            extra = sorted(k for k, v in node.args.items() if v not in (None, [], False) and k not in allowed)
            if extra:
                raise UnsafeSQL(f"不支持的WITH写法：{'、'.join(extra)}")
        elif isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
            raise UnsafeSQL("不允许跨库访问")
        elif isinstance(node, BINARY_LITERALS) or isinstance(node, exp.Cast) and node.to.is_type(*BINARY_TYPES):
            raise UnsafeSQL("不允许二进制值：结果只能是文本或数字")  # a BLOB cannot be shown or sent as JSON
        elif isinstance(node, (exp.Dot, exp.Lateral, exp.Unnest)):
            raise UnsafeSQL(f"不支持的写法：{node.sql()}")


def _has_with(node: exp.Expression) -> bool:
    return isinstance(node, (exp.Select, exp.SetOperation)) and node.args.get("with_") is not None


def _check_identifier(node: exp.Identifier, forbidden: set[str]) -> None:
    name = fold(node.name)
    if name in SYSTEM_NAMES or name.startswith(SYSTEM_PREFIXES):
        raise UnsafeSQL(f"不允许访问系统表：{node.name}")
    if name in forbidden:  # whatever it names: a column, a USING key, an alias that would shadow it
        raise UnsafeSQL(f"不允许的列：{node.name}")


def _check_join(join: exp.Join) -> None:
    if (join.args.get("method") or "").upper() == "NATURAL":
        raise UnsafeSQL("不允许NATURAL JOIN（会比较表的全部列）")
    if any(not isinstance(key, exp.Identifier) for key in join.args.get("using") or []):
        raise UnsafeSQL("USING 只允许列名")  # SQLite reads USING ('x') as the column x


def _enforce_limit(tree: exp.Expression, max_limit: int) -> None:
    """The outermost query's LIMIT, at most ``max_limit`` (a set operation's LIMIT applies to the whole)."""
    limit = tree.args.get("limit")
    expr = limit.expression if isinstance(limit, exp.Limit) else None
    value = int(expr.this) if isinstance(expr, exp.Literal) and expr.is_int else None
    if value is None or value > max_limit:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(max_limit if value is None else min(value, max_limit))))


class _Resolver:
    """Resolves every table reference and column name of one statement, scope by scope.

    A table reference is the wide table, ``companies``, or a CTE visible where the reference stands: a
    CTE's name is visible in its WITH's query and in the CTEs after it (and in itself when RECURSIVE).
    SQLite sees at least these (it also resolves a CTE's name from earlier siblings), so a name taken
    for a CTE here is a CTE there too. A derived table's alias never stands for a table.
    """

    def __init__(self, store: Store):
        self.columns = {fold(c) for c in allowed_columns(store)}
        self.real_columns = {WIDE_TABLE: {fold(c.name) for c in store.t[WIDE_TABLE].columns},
                             "companies": {fold(c) for c in COMPANY_COLUMNS}}
        self._outputs: dict[int, set[str]] = {}
        self._ctes: dict[int, exp.CTE | None] = {}

    def check(self, tree: exp.Expression) -> None:
        for table in tree.find_all(exp.Table):
            self._check_table(table)
        # A query that reads no report table (SELECT 2000000020 AS 最低02) computes its answer from nothing.
        if not any(self.real_table(t) for t in tree.find_all(exp.Table)):
            raise UnsafeSQL("查询没有读取年报数据表（company_year 或 companies）")
        for node in tree.find_all(exp.Select, exp.Subquery):
            if isinstance(node, exp.Select):
                self._check_from_items(node)
                self._check_stars(node)
            elif not isinstance(node.this, (exp.Select, exp.SetOperation, exp.Values)):
                raise UnsafeSQL(f"不支持的子查询：{node.sql()}")
        for column in tree.find_all(exp.Column):
            self._check_column(column)

    # Tables ------------------------------------------------------------------------------------
    def _check_table(self, table: exp.Table) -> None:
        if not isinstance(table.this, exp.Identifier):
            raise UnsafeSQL(f"不允许表值函数：{table.sql()}")  # pragma_table_info(…), json_each(…)
        if table.args.get("db") or table.args.get("catalog"):
            raise UnsafeSQL("不允许跨库访问")
        extra = sorted(k for k, v in table.args.items() if v not in (None, [], False) and k not in TABLE_ARGS)
        if extra:
            raise UnsafeSQL(f"不支持的表写法：{'、'.join(extra)}")
        if self.cte_of(table) is None and self.real_table(table) is None:
            raise UnsafeSQL(f"不允许的表：{table.name}")

    def real_table(self, table: exp.Table) -> str | None:
        """``company_year`` or ``companies`` when the reference reads that real table, else None."""
        if not isinstance(table.this, exp.Identifier) or self.cte_of(table) is not None:
            return None
        name = fold(table.name)
        return next((t for t in REAL_TABLES if fold(t) == name), None)

    def cte_of(self, table: exp.Table) -> exp.CTE | None:
        """The CTE a table reference names, innermost first, or None for a real table."""
        if id(table) not in self._ctes:
            name = fold(table.name)
            self._ctes[id(table)] = next((c for c in _visible_ctes(table) if fold(c.alias) == name), None)
        return self._ctes[id(table)]

    def _check_from_items(self, select: exp.Select) -> None:
        for item in _from_items(select):
            if not isinstance(item, FROM_ITEMS):
                raise UnsafeSQL(f"不支持的FROM写法：{item.sql()}")
            if isinstance(item, exp.Table) and item.args.get("joins"):
                raise UnsafeSQL("不支持括号内的连接")

    def _check_stars(self, select: exp.Select) -> None:
        """``*`` over the real companies table would read its aliases column: name the columns instead."""
        companies = {fold(t.alias_or_name) for t in _from_items(select)
                     if isinstance(t, exp.Table) and self.real_table(t) == "companies"}
        for projection in select.expressions:
            star = isinstance(projection, exp.Star)
            qualified = isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            if companies and (star or qualified and fold(projection.table) in companies):
                raise UnsafeSQL("companies 表请列出所需的列（code、full_name、short_name），不允许 *")

    # Columns -----------------------------------------------------------------------------------
    def _check_column(self, column: exp.Column) -> None:
        if isinstance(column.this, exp.Star):
            return
        name = fold(column.name)
        if name not in self.columns and name not in self._names_in_scope(column):
            raise UnsafeSQL(f"不允许的列：{column.name}")

    def _names_in_scope(self, node: exp.Expression) -> set[str]:
        """Names a column may use besides the real columns: the aliases of every query around it and
        the output columns of the tables those queries read (derived tables, CTEs)."""
        names: set[str] = set()
        for query in _enclosing_queries(node):
            if isinstance(query, exp.Select):
                # Its own projections count only by alias: a bare name there is the very column checked.
                names |= {fold(p.alias) for p in query.expressions if isinstance(p, exp.Alias)}
                for item in _from_items(query):
                    names |= self.outputs(item)
            else:  # a set operation's ORDER BY names its branches' columns (each checked in its branch)
                names |= self.outputs(query)
        return names

    def outputs(self, node: exp.Expression) -> set[str]:
        """The column names a query or FROM item exposes (a cycle, a recursive CTE, contributes nothing)."""
        key = id(node)
        if key not in self._outputs:
            self._outputs[key] = set()  # in progress: a recursive reference sees nothing more
            self._outputs[key] = self._compute_outputs(node)
        return self._outputs[key]

    def _compute_outputs(self, node: exp.Expression) -> set[str]:
        alias = node.args.get("alias")
        names = {fold(c.name) for c in alias.columns} if isinstance(alias, exp.TableAlias) else set()
        if isinstance(node, exp.Select):
            for projection in node.expressions:
                if isinstance(projection, exp.Star) or isinstance(projection, exp.Column) and \
                        isinstance(projection.this, exp.Star):
                    for item in _from_items(node):
                        names |= self.outputs(item)
                elif projection.alias_or_name:
                    names.add(fold(projection.alias_or_name))
        elif isinstance(node, exp.SetOperation):
            names |= self.outputs(node.this) | self.outputs(node.expression)
        elif isinstance(node, exp.Subquery):
            names |= self.outputs(node.this)
        elif isinstance(node, exp.Table):
            cte = self.cte_of(node)
            if cte is not None:
                names |= self.outputs(cte) | self.outputs(cte.this)
            else:
                names |= self.real_columns.get(self.real_table(node) or "", set())
        return names


def _visible_ctes(node: exp.Expression) -> list[exp.CTE]:
    """The CTEs visible at ``node``, innermost first (see :class:`_Resolver`)."""
    visible: list[exp.CTE] = []
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = list(parent.expressions)
            at = next((i for i, c in enumerate(ctes) if c is child), None)
            if at is not None:  # inside CTE number ``at``: the ones before it (and itself when RECURSIVE)
                visible += reversed(ctes[:at + 1] if parent.args.get("recursive") else ctes[:at])
        else:
            with_ = parent.args.get("with_")
            if isinstance(with_, exp.With) and with_ is not child:
                visible += reversed(with_.expressions)
        child, parent = parent, parent.parent
    return visible


def _enclosing_queries(node: exp.Expression):
    parent = node.parent
    while parent is not None:
        if isinstance(parent, (exp.Select, exp.SetOperation)):
            yield parent
        parent = parent.parent


def _from_items(select: exp.Select) -> list[exp.Expression]:
    from_ = select.args.get("from_")
    items = [from_.this] if from_ is not None else []
    return items + [join.this for join in select.args.get("joins") or []]


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
    """A Decimal as its exact text; a whole number without the ``.0`` that 百万元 × 10⁶ leaves."""
    if not isinstance(value, Decimal):
        return value
    return format(value.quantize(Decimal(1)) if value == value.to_integral_value() else value, "f")


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
                                    "source": p.get("source"), "file": p.get("file_name"),
                                    "report_year": p.get("report_year")}
    return out, safe


def _provenance(store: Store, code: str, year: int, fields: list[str]) -> dict[str, dict]:
    if not fields:
        return {}
    best: dict[str, dict] = {}
    for p in store.provenance(code, year, fields):  # best source first
        best.setdefault(p["field"], p)
    return best
