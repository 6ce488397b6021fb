"""Label–value tables (公司简介, 员工情况, 研发投入): a cell whose label names a wanted field, and the value
in the next non-empty cell. Works on camelot rows and, when a page has no table, on its text lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ingestion.audit import FAILED, check_identity, identity_book
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


@dataclass(frozen=True)
class LineRead:
    """One label–value pair read off the text lines, and the lines it took."""

    field: FieldDef
    label: str
    raw: str
    lines: tuple[int, ...]


def _lone_figures(line: str) -> bool:
    """A line of figures only ("19", "1,402 1,388"): the value of a label wrapped onto the lines above."""
    tokens = line.split()
    return bool(tokens) and all(parse_number(t) is not None for t in tokens)


def _label_at(tokens: list[str], start: int, resolve: Resolver) -> tuple[FieldDef, str, int] | None:
    """The longest run of tokens from ``start`` (leaving one at least for a value) that names a field, with
    the index of the token after it."""
    for k in range(len(tokens) - 1, start, -1):
        label = "".join(tokens[start:k])
        if (fdef := resolve(label)) is not None:
            return fdef, label, k
    return None


def read_lines(text: str, resolve: Resolver) -> Iterable[LineRead]:
    """Text-layer fallback: a line "label value" (the longest leading run of tokens that resolves), and after
    a figure the rest of the line as another pair (「硕士 14 本科 204」: two columns of a table on one line); a
    label wrapped over two lines with its figure at the end of the second or on a line of its own
    (「母公司及主要子公司需承担费用的离退休职」「工人数」「19」)."""
    lines = text.splitlines()
    taken: set[int] = set()
    for n, line in enumerate(lines):
        if n in taken:
            continue
        tokens, start, read_any = line.split(), 0, False
        while (found := _label_at(tokens, start, resolve)) is not None:
            fdef, label, k = found
            rest = [t for t in tokens[k:] if t not in NONE_TEXT]
            # A line of column headers ("董事会秘书 证券事务代表") names fields, it holds no value.
            if not rest or any(resolve(t) is not None for t in (rest if fdef.unit == "text" else rest[:1])):
                break
            read_any = True
            if fdef.unit != "text":
                yield LineRead(fdef, label, rest[0], (n,))
                start = tokens.index(rest[0], k) + 1
                continue
            raw, used = " ".join(rest), (n,)
            if n + 1 < len(lines) and _continues(raw, lines[n + 1], resolve):
                raw, used = raw + "\n" + lines[n + 1].strip(), (n, n + 1)
                taken.add(n + 1)
            yield LineRead(fdef, label, raw, used)
            break
        if not read_any and (wrapped := _wrapped_label(lines, n, resolve)) is not None:
            taken.update(wrapped.lines)
            yield wrapped


def _wrapped_label(lines: list[str], n: int, resolve: Resolver) -> LineRead | None:
    """A numeric field whose label is one Chinese token on line ``n`` and continues on the next line, its
    figure after the label's tail or alone on the line after."""
    head = lines[n].strip()
    if n + 1 >= len(lines) or " " in head or not _CJK.search(head) or any(ch.isdigit() for ch in head):
        return None
    tail = lines[n + 1].split()
    for k in range(len(tail), 0, -1):
        label = head + "".join(tail[:k])
        fdef = resolve(label)
        if fdef is None or fdef.unit == "text":
            continue
        rest = [t for t in tail[k:] if t not in NONE_TEXT]
        if rest:
            return LineRead(fdef, label, rest[0], (n, n + 1)) if parse_number(rest[0]) is not None else None
        if n + 2 < len(lines) and _lone_figures(lines[n + 2]):
            return LineRead(fdef, label, lines[n + 2].split()[0], (n, n + 1, n + 2))
        return None
    return None


def unread_figures(text: str, reads: list[LineRead]) -> list[str]:
    """Lines of lone figures inside the stretch of lines the reads took (or just after it) that no read took:
    a value whose label the text reader did not put together, which a table reader might."""
    used = {n for r in reads for n in r.lines}
    if not used:
        return []
    lines = text.splitlines()
    stretch = range(min(used), min(max(used) + 2, len(lines)))
    return [lines[n].strip() for n in stretch if n not in used and _lone_figures(lines[n])]


def resolver_for(statements: tuple[str, ...], fields: FieldDictionary | None = None) -> Resolver:
    fields = fields or field_dictionary()

    def resolve(label: str) -> FieldDef | None:
        f = fields.resolve(label)
        return f if f is not None and f.statement in statements else None

    return resolve


def collect_text(page_texts: dict[int, str], resolve: Resolver,
                 unit_of_page: Callable[[int], str] = lambda page: "元") -> tuple[Collector, list[str]]:
    """The pairs of the text lines alone, and the lone figures inside the stretch they took that no pair
    took («p.59: 「19」»)."""
    found, unread = Collector(), []
    for page, text in sorted(page_texts.items()):
        reads = list(read_lines(text, resolve))
        for r in reads:
            found.add(typed_value(r.field, r.raw, page, r.label, unit_of_page(page)))
        unread += [f"p.{page}: 「{line}」" for line in unread_figures(text, reads)]
    return found, unread


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
    for value in collect_text(page_texts, resolve, unit_of_page)[0].list():
        found.add(value)
    return found


@dataclass
class TextReading:
    """A label–value table read from its pages' text alone, and why a table reader (camelot) should read it
    after all: a lone figure no label took, its total not found, one of its identities failing. No doubt:
    the text is the reading and camelot is spared those pages (its layout analysis is most of a report's
    ingestion time)."""

    values: list[Value]
    doubts: list[str]

    @property
    def settled(self) -> bool:
        return not self.doubts


def text_reading(statement: str, found: Collector, unread: list[str], total: str, unit: str = "元") -> TextReading:
    """Checks the text's pairs of one table: ``total`` must be among them, no figure left unread, and every
    identity of ``statement`` in ``knowledge/identities.toml`` that the pairs allow to check holds."""
    doubts = [f"{where} 未读" for where in unread]
    if total not in found:
        doubts.append(f"未读到{total}")
    for ident in identity_book().for_statement(statement):
        check = check_identity(ident, found.values, unit)
        if check is not None and check.status == FAILED:
            doubts.append(f"{ident.name} 差 {check.difference}")
    return TextReading(found.list(), doubts)
