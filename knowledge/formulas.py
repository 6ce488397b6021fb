"""Formulas as data (knowledge/formulas.toml): their definitions, parsed and evaluated with exact decimals.

Expressions are parsed by a small recursive-descent parser (numbers, labels, + - * / and
parentheses) — never ``eval``. A label resolves to a canonical field through the field dictionary;
``上年X`` is X in the prior year, read from the prior year's row.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_UP,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    localcontext,
)
from functools import lru_cache

from knowledge.fields import KNOWLEDGE_DIR, field_dictionary, question_forms

PRIOR = "上年"
# percent: ×100 with %; ratio: plain; money: 元; count: 人; points: a change of a percent field, 个百分点.
OUTPUTS = ("percent", "ratio", "money", "count", "points")
# Formulas every numeric field has without a line in formulas.toml (derived_formula): its growth rate,
# its change on the prior year, and its share of another field.
GROWTH_SUFFIX = "增长率"
CHANGE_SUFFIX = "变动额"
POINTS_SUFFIX = "变动"  # a rate's change, in percentage points (不良贷款率变动)
SHARE = re.compile(r"(.+)占(.+)的比例")
DIFFERENCE = re.compile(r"(.+)与(.+)的差额")
# Rates and ratios keep at least this many significant digits unless the question asks for decimals
# (保留两位小数 wins); MAX_PLACES bounds the decimals of a vanishing figure.
SIGNIFICANT_OUTPUTS = ("percent", "ratio", "points")
SIGNIFICANT_DIGITS = 3
MAX_PLACES = 6
_CHANGE_OUTPUT = {"money": "money", "count": "count", "percent": "points", "ratio": "ratio"}


class FormulaError(ValueError):
    pass


@dataclass(frozen=True)
class Input:
    label: str  # as written in the expression (answers echo it)
    field: str  # canonical field
    offset: int  # 0 this year, -1 the prior year


@dataclass(frozen=True)
class FormulaDef:
    name: str
    expression: str
    output: str
    synonyms: tuple[str, ...] = ()
    inputs_map: dict[str, str] = field(default_factory=dict)
    decimals: int = 2
    lookup: bool = False
    printed: str | None = None  # the field reports print for it (answered as printed when held)

    @property
    def display(self) -> str:
        return f"{self.name}={self.expression}"

    @property
    def inputs(self) -> list[Input]:
        return _inputs(self)

    @property
    def tree(self):
        return _parse(self.expression)


def _inputs(f: FormulaDef) -> list[Input]:
    out: dict[str, Input] = {}
    for label in _labels(f.expression):
        base, offset = (label[len(PRIOR):], -1) if label.startswith(PRIOR) else (label, 0)
        name = f.inputs_map.get(label) or f.inputs_map.get(base)
        if name is None:
            fdef = field_dictionary().resolve(base)
            if fdef is None:
                raise FormulaError(f"{f.name}: 公式中的“{label}”不是已知字段")
            name = fdef.name
        out[label] = Input(label, name, offset)
    return list(out.values())


@lru_cache(maxsize=1)
def formula_table() -> dict[str, FormulaDef]:
    data = tomllib.loads((KNOWLEDGE_DIR / "formulas.toml").read_text(encoding="utf-8"))
    table: dict[str, FormulaDef] = {}
    english = question_forms()["formulas"]
    for entry in data["formula"]:
        f = FormulaDef(
            name=entry["name"],
            expression=entry["expression"].replace(" ", ""),
            output=entry["output"],
            synonyms=tuple(entry.get("synonyms", ())) + tuple(english.get(entry["name"], ())),
            inputs_map=dict(entry.get("inputs", {})),
            decimals=int(entry.get("decimals", 2)),
            lookup=bool(entry.get("lookup", False)),
            printed=entry.get("printed"),
        )
        if f.output not in OUTPUTS or f.name in table:
            raise FormulaError(f"formula {f.name!r}: bad output or defined twice")
        f.inputs  # resolve every label now: a typo in the TOML fails at load, not at question time
        table[f.name] = f
    return table


def get_formula(name: str) -> FormulaDef | None:
    table = formula_table()
    if name in table:
        return table[name]
    return next((f for f in table.values() if name in f.synonyms), None) or derived_formula(name)


def _numeric_field(words: str):
    f = field_dictionary().resolve(words)
    return f if f is not None and f.unit != "text" else None


@lru_cache(maxsize=1024)
def derived_formula(name: str) -> FormulaDef | None:
    """「扣除非经常性损益后的净利润增长率」, 「货币资金变动额」, 「研发费用占营业收入的比例」: the growth rate,
    the change and the share that any numeric field has, built from the field dictionary. A rate's growth
    is its change in percentage points (不良贷款率变动)."""
    try:
        if name.endswith(GROWTH_SUFFIX) and (f := _numeric_field(name.removesuffix(GROWTH_SUFFIX))):
            if f.unit == "percent":
                return derived_formula(f.name + POINTS_SUFFIX)
            return FormulaDef(f.name + GROWTH_SUFFIX, f"({f.name}-{PRIOR}{f.name})/{PRIOR}{f.name}", "percent",
                              inputs_map={f.name: f.name, PRIOR + f.name: f.name})
        # A rate the reports print under the formula's own name (主营业务毛利率) changes as printed: the field's.
        rate_name = name.removesuffix(POINTS_SUFFIX)
        if name.endswith(POINTS_SUFFIX) and not _numeric_field(rate_name) and (rate := _percent_formula(rate_name)):
            return rate
        for suffix in (CHANGE_SUFFIX, POINTS_SUFFIX):
            if name.endswith(suffix) and (f := _numeric_field(name.removesuffix(suffix))):
                named = f.name + (POINTS_SUFFIX if f.unit == "percent" else CHANGE_SUFFIX)
                return FormulaDef(named, f"{f.name}-{PRIOR}{f.name}", _CHANGE_OUTPUT[f.unit],
                                  inputs_map={f.name: f.name, PRIOR + f.name: f.name})
        if (m := SHARE.fullmatch(name)) and (part := _numeric_field(m[1])) and (whole := _numeric_field(m[2])) \
                and part.unit == whole.unit and part.name != whole.name:
            return FormulaDef(f"{part.name}占{whole.name}的比例", f"{part.name}/{whole.name}", "percent",
                              inputs_map={part.name: part.name, whole.name: whole.name})
        if (m := DIFFERENCE.fullmatch(name)) and (a := _numeric_field(m[1])) and (b := _numeric_field(m[2])) \
                and a.unit == b.unit and a.name != b.name:
            return FormulaDef(f"{a.name}与{b.name}的差额", f"{a.name}-{b.name}", _CHANGE_OUTPUT[a.unit],
                              inputs_map={a.name: a.name, b.name: b.name})
    except FormulaError:
        return None
    return None


def _percent_formula(name: str) -> FormulaDef | None:
    """「毛利率变动」: a listed percent formula's change on the prior year, in percentage points — the
    formula over this year's inputs minus the same over the prior year's (上年营业收入 …)."""
    f = formula_table().get(name) or next((g for g in formula_table().values() if name in g.synonyms), None)
    if f is None or f.output != "percent" or uses_prior_year(f):
        return None
    prior = "".join(PRIOR + v if kind == "name" else v for kind, v in _tokens(f.expression))
    inputs = {**f.inputs_map, **{PRIOR + label: field for label, field in f.inputs_map.items()}}
    return FormulaDef(f.name + POINTS_SUFFIX, f"(({f.expression})-({prior}))*100", "points", inputs_map=inputs)


def change_formula(field: str, *, amount: bool) -> str | None:
    """The name of the formula for a field's change on the prior year: its growth rate (a listed formula
    first: 营业收入增长率), or with ``amount`` its change (货币资金变动额)."""
    if amount:
        f = derived_formula(field + CHANGE_SUFFIX)
    else:
        f = get_formula(field + GROWTH_SUFFIX)
    return f.name if f is not None else None


def uses_prior_year(f: FormulaDef) -> bool:
    return any(i.offset for i in f.inputs)


# Parsing -----------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([-+*/()])|([^-+*/()\s\d][^-+*/()\s]*))")


def _tokens(expr: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise FormulaError(f"cannot parse {expr[pos:]!r}")
        num, op, name = m.groups()
        out.append(("num", num) if num else ("op", op) if op else ("name", name))
        pos = m.end()
    return out


@lru_cache(maxsize=256)
def _parse(expr: str):
    """AST as nested tuples: ('num', Decimal) | ('name', label) | (op, left, right) | ('neg', x)."""
    tokens = _tokens(expr)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else (None, None)

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1] if pos <= len(tokens) else (None, None)

    def expr_():
        node = term()
        while peek() in (("op", "+"), ("op", "-")):
            node = (take()[1], node, term())
        return node

    def term():
        node = factor()
        while peek() in (("op", "*"), ("op", "/")):
            node = (take()[1], node, factor())
        return node

    def factor():
        kind, val = take()
        if kind == "num":
            return ("num", Decimal(val))
        if kind == "name":
            return ("name", val)
        if (kind, val) == ("op", "-"):
            return ("neg", factor())
        if (kind, val) == ("op", "("):
            node = expr_()
            if take() != ("op", ")"):
                raise FormulaError(f"unbalanced parentheses in {expr!r}")
            return node
        raise FormulaError(f"unexpected {val!r} in {expr!r}")

    tree = expr_()
    if pos != len(tokens):
        raise FormulaError(f"trailing {tokens[pos][1]!r} in {expr!r}")
    return tree


def _labels(expr: str) -> list[str]:
    return list(dict.fromkeys(v for k, v in _tokens(expr) if k == "name"))


def evaluate(expr: str, env: dict[str, Decimal]) -> Decimal:
    """Exact decimal value of ``expr``; raises ZeroDivisionError / KeyError for a zero divisor / missing label."""

    def ev(node):
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "name":
            return env[node[1]]
        if kind == "neg":
            return -ev(node[1])
        left, right = ev(node[1]), ev(node[2])
        if kind == "+":
            return left + right
        if kind == "-":
            return left - right
        if kind == "*":
            return left * right
        if right == 0:
            raise ZeroDivisionError
        return left / right

    with localcontext() as ctx:
        ctx.prec = 40
        ctx.traps[DivisionByZero] = True
        ctx.traps[InvalidOperation] = True
        return ev(_parse(expr))


def default_places(f: FormulaDef, scaled: Decimal) -> int:
    """The decimals a rate or ratio is shown with when the question asks for none: the formula's own, or
    more where those would leave fewer than SIGNIFICANT_DIGITS (a 0.19% growth is 0.194%: an analyst
    checking it against the inputs needs the third digit)."""
    if f.output not in SIGNIFICANT_OUTPUTS or scaled == 0:
        return f.decimals
    needed = SIGNIFICANT_DIGITS - 1 - scaled.adjusted()  # adjusted(): the exponent of the leading digit
    return max(f.decimals, min(needed, MAX_PLACES))


def round_output(f: FormulaDef, value: Decimal, decimals: int | None) -> tuple[Decimal, str]:
    """(rounded number, display): percent ×100 with %, ratio plain, money with 元."""
    scaled = value * 100 if f.output == "percent" else value
    places = decimals if decimals is not None else default_places(f, scaled)
    q = scaled.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    suffix = {"percent": "%", "ratio": "", "money": "元", "count": "人", "points": "个百分点"}[f.output]
    return q, f"{q}{suffix}"
