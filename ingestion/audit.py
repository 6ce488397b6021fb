"""Self-audit at ingestion: each report's statements checked against their accounting identities.

At ten thousand reports nobody checks values by hand, so every report checks itself, in each column its
statements print (本期, 上期, 上期调整后): every subtotal against its items, the totals against each other, the
income chain, the cash-flow nets (the identities are data: ``knowledge/identities.toml``, plus every ``sum_of``
of ``knowledge/fields.toml``). An identity is checked only when its total and all its terms were extracted;
otherwise it is "not checked", never a failure. A failing identity flags the report and its fields; it never
stops the ingestion.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from ingestion.numbers import clean_cell, multiplier
from ingestion.statements import StatementResult
from knowledge.fields import KNOWLEDGE_DIR, FieldDictionary, field_dictionary
from knowledge.store import Value

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not_checked"
COLUMNS = {"current": "本期", "prior": "上期", "restated": "上期调整后"}
# A column's year, relative to the report's own.
COLUMN_YEAR_OFFSET = {"current": 0, "prior": -1, "restated": -1}
MAX_EITHER_GROUPS = 4  # 2^4 ways to read a sum at most


@dataclass(frozen=True)
class Term:
    field: str
    sign: int  # +1, or -1 for a deduction


@dataclass(frozen=True)
class Identity:
    """``total`` = Σ sign × value over ``terms`` (all required) and ``items`` (a missing one counts 0)."""

    name: str
    statement: str
    total: str
    terms: tuple[Term, ...] = ()
    items: tuple[Term, ...] = ()
    either: tuple[tuple[str, ...], ...] = ()
    unless: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.total, *[t.field for t in (*self.terms, *self.items)])


@dataclass(frozen=True)
class Check:
    """One identity in one column of one report."""

    identity: str
    statement: str
    column: str  # current | prior | restated
    status: str  # passed | failed | not_checked
    fields: tuple[str, ...] = ()  # the values used (failed/passed) or the ones missing (not checked)
    total: Decimal | None = None  # as printed, in yuan
    computed: Decimal | None = None  # the sum of the terms, in yuan
    tolerance: Decimal | None = None

    @property
    def difference(self) -> Decimal | None:
        return None if self.total is None or self.computed is None else self.total - self.computed

    def brief(self, report_year: int) -> str:
        """「综合收益总额 = 净利润 + 其他综合收益的税后净额（本期 2024）差 -374,000,000」"""
        year = report_year + COLUMN_YEAR_OFFSET[self.column]
        return f"{self.identity}（{COLUMNS[self.column]} {year}）差 {_money(self.difference)}"

    def line(self, year: int | None = None) -> str:
        """「✗ 利润总额 = 营业利润 + … （本期 2019）: 利润总额 145,623,928.45 ≠ 145,623,916.45，差 12.00；字段 …」"""
        col = COLUMNS.get(self.column, self.column) + (f" {year}" if year is not None else "")
        if self.status == NOT_CHECKED:
            return f"– {self.identity}（{col}）: 未检查，缺 {'、'.join(self.fields)}"
        mark = "✓" if self.status == PASSED else "✗"
        return (f"{mark} {self.identity}（{col}）: {self.fields[0]} {_money(self.total)} "
                f"{'=' if self.status == PASSED else '≠'} {_money(self.computed)}，差 {_money(self.difference)}"
                f"（容差 {_money(self.tolerance)}）；字段 {'、'.join(self.fields)}")


@dataclass
class AuditResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAILED]

    @property
    def checked(self) -> list[Check]:
        return [c for c in self.checks if c.status != NOT_CHECKED]

    @property
    def passed_all(self) -> bool:
        """Every identity that could be checked holds (a report with none checked passes nothing)."""
        return bool(self.checked) and not self.failed

    def summary(self) -> str:
        n_checked, n_failed = len(self.checked), len(self.failed)
        return (f"{n_checked - n_failed}/{n_checked} identities hold"
                + (f", {n_failed} failed" if n_failed else "")
                + f", {len(self.checks) - n_checked} not checked")


# Loading the identities ------------------------------------------------------------------------------------


def _term(text: str) -> Term:
    text = text.strip()
    return Term(text[1:].strip(), -1) if text.startswith("-") else Term(text.lstrip("+").strip(), 1)


def _default_name(total: str, terms: Iterable[Term]) -> str:
    parts = [("− " if t.sign < 0 else ("+ " if i else "")) + t.field for i, t in enumerate(terms)]
    return f"{total} = {' '.join(parts)}"


@dataclass(frozen=True)
class IdentityBook:
    identities: tuple[Identity, ...]
    deductions: dict[str, tuple[str, ...]]  # statement → fields that are always deductions

    def for_statement(self, statement: str) -> list[Identity]:
        return [i for i in self.identities if i.statement == statement]


def load_identities(path: Path | None = None, fields: FieldDictionary | None = None) -> IdentityBook:
    """``knowledge/identities.toml`` and the ``sum_of`` totals of the field dictionary. Raises ``ValueError``
    for a field the dictionary does not know or one of another statement."""
    fields = fields or field_dictionary()
    data = tomllib.loads((path or KNOWLEDGE_DIR / "identities.toml").read_text(encoding="utf-8"))
    identities = [
        Identity(_default_name(f.name, [Term(p, 1) for p in f.sum_of]), f.statement, f.name,
                 tuple(Term(p, 1) for p in f.sum_of))
        for f in fields if f.sum_of
    ]
    for entry in data.get("identity", []):
        terms = tuple(_term(t) for t in entry.get("terms", ()))
        items = tuple(_term(t) for t in entry.get("items", ()))
        identities.append(Identity(
            name=entry.get("name") or _default_name(entry["total"], (*terms, *items)),
            statement=entry["statement"], total=entry["total"], terms=terms, items=items,
            either=tuple(tuple(g) for g in entry.get("either", ())), unless=tuple(entry.get("unless", ())),
        ))
    deductions = {k: tuple(v) for k, v in data.get("deductions", {}).items()}
    for ident in identities:
        names = [*ident.fields, *[f for g in ident.either for f in g], *ident.unless]
        for name in names:
            if name not in fields:
                raise ValueError(f"identity {ident.name!r}: {name!r} is not a field of the dictionary")
            if fields[name].statement != ident.statement:
                raise ValueError(f"identity {ident.name!r}: {name!r} is not a field of the {ident.statement} statement")
        if len(ident.either) > MAX_EITHER_GROUPS:
            raise ValueError(f"identity {ident.name!r}: more than {MAX_EITHER_GROUPS} `either` groups")
    return IdentityBook(tuple(identities), deductions)


@lru_cache(maxsize=1)
def identity_book() -> IdentityBook:
    return load_identities()


# Evaluating them -------------------------------------------------------------------------------------------


def last_digit_unit(value: Value, unit: str) -> Decimal:
    """One unit of the value's last printed digit, in yuan: "905,402,299.44" in 元 → 0.01; "32,719" in 百万元
    → 1,000,000. Without the printed text, the value's own last digit."""
    text = clean_cell(value.raw_text or "")
    if any(ch.isdigit() for ch in text):
        digits = text.rstrip(")）%").split(".")
        decimals = len([c for c in digits[1] if c.isdigit()]) if len(digits) > 1 else 0
        return Decimal(1).scaleb(-decimals) * multiplier(unit)
    exponent = Decimal(value.value).as_tuple().exponent
    return Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)


def deductions_negative(values: dict[str, Value], deductions: Iterable[str]) -> bool:
    """Whether this column prints its deductions as negative amounts: most of the always-deducted fields it
    holds are below zero."""
    signs = [values[f].value < 0 for f in deductions if f in values and values[f].value != 0]
    return sum(signs) * 2 > len(signs)


def check_identity(ident: Identity, values: dict[str, Value], unit: str, column: str = "current",
                   negative_deductions: bool = False) -> Check | None:
    """The identity in one column (``values``: field → value as extracted); None where it does not apply (a
    field of its ``unless`` is present: another layout)."""
    if any(f in values for f in ident.unless):
        return None
    missing = [f for f in (ident.total, *[t.field for t in ident.terms]) if f not in values]
    if not missing and not ident.terms and not any(t.field in values for t in ident.items):
        missing = [t.field for t in ident.items]  # a sum of items alone needs one item at least
    if missing:
        return Check(ident.name, ident.statement, column, NOT_CHECKED, tuple(missing))

    def contribution(t: Term) -> Decimal:
        v = Decimal(values[t.field].value)
        # A deduction printed negative is added as printed.
        return v if t.sign > 0 or negative_deductions else -v

    total = Decimal(values[ident.total].value)
    groups = [g for g in ident.either if any(f in values for f in g)]
    best: Check | None = None
    for excluded in itertools.product((False, True), repeat=len(groups)):
        left_out = {f for g, out in zip(groups, excluded, strict=True) if out for f in g}
        used = [t for t in (*ident.terms, *ident.items) if t.field in values and t.field not in left_out]
        computed = sum((contribution(t) for t in used), Decimal(0))
        fields = (ident.total, *[t.field for t in used])
        tolerance = sum((last_digit_unit(values[f], unit) for f in fields), Decimal(0))
        status = PASSED if abs(total - computed) <= tolerance else FAILED
        check = Check(ident.name, ident.statement, column, status, fields, total, computed, tolerance)
        if status == PASSED:
            return check
        # Of the ways to read it, the failure shown is the nearest one.
        if best is None or abs(check.difference) - tolerance < abs(best.difference) - best.tolerance:
            best = check
    return best


def audit_statements(statements: dict[str, StatementResult], book: IdentityBook | None = None) -> AuditResult:
    """Every identity of every extracted statement, in each of its columns."""
    book = book or identity_book()
    result = AuditResult()
    for kind, res in statements.items():
        identities = book.for_statement(kind)
        for column in COLUMNS:
            values = {v.field: v for v in getattr(res, column)}
            if not values:
                continue
            negative = deductions_negative(values, book.deductions.get(kind, ()))
            checks = (check_identity(i, values, res.unit, column, negative) for i in identities)
            result.checks += [c for c in checks if c is not None]
    return result


def audit_rows(audit: AuditResult, report_year: int) -> list[dict]:
    """The checks as :meth:`knowledge.store.Store.record_audit` takes them."""
    return [{"year": report_year + COLUMN_YEAR_OFFSET[c.column], "column_name": c.column, "statement": c.statement,
             "identity": c.identity, "status": c.status, "fields": list(c.fields), "total": c.total,
             "computed": c.computed, "difference": c.difference, "tolerance": c.tolerance} for c in audit.checks]


def stored_check(row: dict) -> Check:
    """A :meth:`knowledge.store.Store.audit` row as the check it records."""
    def number(key: str) -> Decimal | None:
        return None if row.get(key) is None else Decimal(row[key])

    return Check(row["identity"], row["statement"], row["column_name"], row["status"], tuple(row["fields"]),
                 number("total"), number("computed"), number("tolerance"))


def stored_summary(rows: list[dict]) -> list[str]:
    """For ``nianbao show``: the stored audit of a company-year (:meth:`Store.audit` rows) as a count line and
    a line per failing identity, with its fields and the difference."""
    checked = [r for r in rows if r["status"] != NOT_CHECKED]
    failed = [r for r in checked if r["status"] == FAILED]
    if not checked:
        return ["会计恒等式：无可检查项" if rows else "会计恒等式：未审计"]
    out = [f"会计恒等式：{len(checked) - len(failed)}/{len(checked)} 项成立"
           + (f"，{len(failed)} 项不成立" if failed else "") + f"（{len(rows) - len(checked)} 项缺数未检查）"]
    out += [f"{stored_check(r).line(r['year'])}（{r.get('file_name') or ''}）" for r in failed]
    return out


def _money(value: Decimal | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.2f}" if value != value.to_integral_value() or abs(value) < 1000 else f"{value:,.0f}"
