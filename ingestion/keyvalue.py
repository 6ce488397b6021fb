"""Label–value tables (公司简介, 员工情况, 研发投入): a cell whose label names a wanted field, and the value
in the next non-empty cell. Works on camelot rows and, when a page has no table, on its text lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ingestion.numbers import clean_cell, parse_count, parse_number, to_yuan
from knowledge.fields import FieldDef, FieldDictionary, field_dictionary
from knowledge.store import Value

Resolver = Callable[[str], FieldDef | None]
# Cells that mean "nothing here".
NONE_TEXT = ("", "-", "--", "—", "——", "无", "不适用", "/", "N/A")


def join_wrapped(text: str) -> str:
    """A cell's lines as one string, characters as printed: Chinese joins directly, Latin words keep a
    space."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    out = ""
    for ln in lines:
        if out and re.search(r"[A-Za-z0-9.,]$", out) and re.match(r"[A-Za-z0-9]", ln):
            out += " " + ln
        else:
            out += ln
    return out.strip()


def typed_value(fdef: FieldDef, raw: str, page: int, label: str, unit: str = "元") -> Value | None:
    """The cell as the field's kind of value, or None when it holds no such value."""
    if fdef.unit == "text":
        text = join_wrapped(raw)
        if text in NONE_TEXT:
            return None
        return Value(fdef.name, text, page=page, raw_label=label, raw_text=raw.strip())
    if fdef.unit == "count":
        number = parse_count(raw)
    else:
        number = parse_number(raw)
        if number is not None and fdef.unit == "money":
            number = to_yuan(number, unit)
    if number is None:
        return None
    return Value(fdef.name, number, page=page, raw_label=label, raw_text=clean_cell(raw))


class Collector:
    """First value per field wins."""

    def __init__(self) -> None:
        self.values: dict[str, Value] = {}

    def add(self, value: Value | None) -> None:
        if value is not None and value.field not in self.values:
            self.values[value.field] = value

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def list(self) -> list[Value]:
        return list(self.values.values())


def scan_row(cells: list[str], resolve: Resolver) -> Iterable[tuple[FieldDef, str, str]]:
    """(field, raw label, raw value) for each label cell in a row followed by a value cell."""
    nonempty = [c for c in cells if c and c.strip()]
    i = 0
    while i < len(nonempty) - 1:
        label = join_wrapped(nonempty[i])
        fdef = resolve(label)
        if fdef is not None:
            yield fdef, label, nonempty[i + 1]
            i += 2
        else:
            i += 1


_ENUMERATED = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|[(（][一二三四五六七八九十\d]+[)）]|\d+[.、]|第)")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _continues(value: str, line: str, resolve: Resolver) -> bool:
    """Whether a text line is the wrapped tail of a Chinese text value (a long address) rather than a
    new row: one short token, Chinese, not numbered, not a label."""
    line = line.strip()
    return (bool(line) and len(line.split()) == 1 and len(line) <= 30 and bool(_CJK.match(line))
            and bool(_CJK.search(value[-1:])) and not _ENUMERATED.match(line) and resolve(line) is None)


def scan_lines(text: str, resolve: Resolver) -> Iterable[tuple[FieldDef, str, str]]:
    """Text-layer fallback: a line "label value"; the longest leading run of tokens that resolves."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        tokens = line.split()
        for k in range(len(tokens) - 1, 0, -1):
            label = "".join(tokens[:k])
            fdef = resolve(label)
            if fdef is not None:
                rest = [t for t in tokens[k:] if t not in NONE_TEXT]
                # A line of column headers ("董事会秘书 证券事务代表") names fields, it holds no value.
                if not rest or any(resolve(t) is not None for t in rest):
                    break
                if fdef.unit != "text":
                    yield fdef, label, rest[0]
                    break
                raw = " ".join(rest)
                if n + 1 < len(lines) and _continues(raw, lines[n + 1], resolve):
                    raw += "\n" + lines[n + 1].strip()
                yield fdef, label, raw
                break


def resolver_for(statements: tuple[str, ...], fields: FieldDictionary | None = None) -> Resolver:
    fields = fields or field_dictionary()

    def resolve(label: str) -> FieldDef | None:
        f = fields.resolve(label)
        return f if f is not None and f.statement in statements else None

    return resolve


def collect(tables: dict, page_texts: dict[int, str], resolve: Resolver,
            unit_of_page: Callable[[int], str] = lambda page: "元") -> Collector:
    """Label–value rows of the tables first; then the text lines fill what the tables missed (a page
    camelot could not read, a borderless table)."""
    found = Collector()
    for page, page_tables in sorted(tables.items()):
        for t in page_tables:
            for row in t.rows:
                for fdef, label, raw in scan_row(row, resolve):
                    found.add(typed_value(fdef, raw, page, label, unit_of_page(page)))
    for page, text in sorted(page_texts.items()):
        for fdef, label, raw in scan_lines(text, resolve):
            found.add(typed_value(fdef, raw, page, label, unit_of_page(page)))
    return found
