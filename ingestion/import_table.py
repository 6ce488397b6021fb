"""Import pre-extracted wide tables (the community-table workbooks, or a CSV with a column map).

Every column goes through ``field_dictionary().resolve`` so an imported column lands in the same
wide-table column a PDF value would. Imported values have the lowest source rank: the store keeps a
report's own value over them unless ``overwrite``. ``-1.0`` (and empty cells) mean "missing".
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from knowledge.fields import field_dictionary, normalize_label
from knowledge.store import Company, Store, Value

# Key columns of the community table, by role. 年份/证券代码/证券简称 repeat the keys in each workbook.
KEY_ALIASES = {
    "company_code": ("股票代码", "证券代码", "stock_code", "code", "company_code"),
    "year": ("报告年份", "年份", "report_year", "year"),
    "short_name": ("股票简称", "证券简称", "company_short_name", "short_name"),
    "full_name": ("company_full_name", "公司名称", "公司全称", "full_name"),
}
IGNORED_COLUMNS = {"信息来源", "report_date", "report_type", "file_name"}
MISSING = {"", "-1", "-1.0", "-1.00", "nan", "None", "none", "null", "NULL", "--", "-"}


@dataclass
class ImportReport:
    files: list[str] = field(default_factory=list)
    company_years: int = 0
    companies: int = 0
    cells_set: int = 0
    values: int = 0
    unmapped_columns: dict[str, list[str]] = field(default_factory=dict)  # file -> columns
    skipped_rows: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        unmapped = sum(len(v) for v in self.unmapped_columns.values())
        return (f"{len(self.files)} files, {self.companies} companies, {self.company_years} company-years, "
                f"{self.values} values ({self.cells_set} cells set), {unmapped} unmapped columns, "
                f"{self.skipped_rows} rows skipped, {self.seconds:.1f}s")


def import_tables(store: Store, files, *, overwrite: bool = False, column_map: dict[str, str | None] | None = None
                  ) -> ImportReport:
    """Import xlsx/csv tables into the wide table; returns what was imported and what was not mapped.

    ``column_map`` maps a raw column to a canonical field, to a key role (``company_code``, ``year``,
    ``short_name``, ``full_name``), or to None to skip it; unmapped columns go through the field dictionary.
    """
    start = time.perf_counter()
    report = ImportReport()
    fields = field_dictionary()
    cells: dict[tuple[str, int], dict[str, Value]] = defaultdict(dict)
    names: dict[str, dict[int, tuple[str | None, str | None]]] = defaultdict(dict)  # code -> year -> names
    for path in sorted(Path(p) for p in files):
        report.files.append(str(path))
        header, rows = _read_table(path)
        roles, mapped, unmapped = _map_columns(header, fields, column_map or {})
        units = {name: fields[name].unit for _idx, name in mapped}
        if unmapped:
            report.unmapped_columns[path.name] = unmapped
        if "company_code" not in roles or "year" not in roles:
            report.unmapped_columns.setdefault(path.name, []).append("(no company code / year column)")
            continue
        for row in rows:
            code = _code(row[roles["company_code"]])
            year = _year(row[roles["year"]])
            if not code or not year:
                report.skipped_rows += 1
                continue
            short = _text(row[roles["short_name"]]) if "short_name" in roles else None
            full = _text(row[roles["full_name"]]) if "full_name" in roles else None
            old_short, old_full = names[code].get(year, (None, None))
            names[code][year] = (short or old_short, full or old_full)
            target = cells[(code, year)]
            for idx, name in mapped:
                cell = row[idx]
                if cell is None or cell in MISSING:  # most cells of a sparse table: skip before parsing
                    continue
                value = _parse(cell, units[name])
                if value is not None:
                    raw = cell.strip() if isinstance(cell, str) else _text(cell)
                    target[name] = Value(field=name, value=value, raw_label=header[idx], raw_text=raw)
    # The registry and the naming fields per year come from the key columns.
    with store.transaction() as conn:
        for code, by_year in names.items():
            latest = by_year[max(by_year)]
            full = latest[1] or next((f for _, f in sorted(by_year.items(), reverse=True) if f[1]), (None, None))[1]
            short = latest[0] or next((s for _, s in sorted(by_year.items(), reverse=True) if s[0]), (None, None))[0]
            aliases = {n for pair in by_year.values() for n in pair if n and n not in (full, short)}
            store.upsert_company(Company(code, full or short or code, short, tuple(sorted(aliases))), conn)
            for year, (s, f) in by_year.items():
                target = cells[(code, year)]
                # A table of subtotals (流动负债合计, 非流动负债合计) still answers 负债合计 questions.
                totals = fields.missing_totals({name: v.value for name, v in target.items()})
                for name, (total, parts) in totals.items():
                    target[name] = Value(name, total, raw_label=" + ".join(parts), note="derived: sum of " + "、".join(parts))
                target.setdefault("证券代码", Value("证券代码", code))
                if s:
                    target.setdefault("公司简称", Value("公司简称", s))
                if f:
                    target.setdefault("公司名称", Value("公司名称", f))
        report.cells_set = store.record_values_many(
            conn, ((code, year, list(vals.values())) for (code, year), vals in cells.items()),
            source="import", overwrite=overwrite)
    report.companies = len(names)
    report.company_years = len(cells)
    report.values = sum(len(v) for v in cells.values())
    report.seconds = time.perf_counter() - start
    return report


def _read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        rows = wb.get_sheet_by_name(wb.sheet_names[0]).to_python()
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    if not rows:
        return [], []
    header = [str(h).strip() for h in rows[0]]
    width = len(header)
    return header, [list(r) + [""] * (width - len(r)) for r in rows[1:] if any(str(c).strip() for c in r)]


def _map_columns(header: list[str], fields, column_map: dict[str, str | None]):
    """(key role -> index, [(index, field)], unmapped columns); the first column wins a role or a field."""
    roles: dict[str, int] = {}
    mapped: list[tuple[int, str]] = []
    seen: set[str] = set()
    unmapped: list[str] = []
    key_of = {normalize_label(a): role for role, aliases in KEY_ALIASES.items() for a in aliases}
    for idx, col in enumerate(header):
        if col in column_map:
            target = column_map[col]
            if target is None:
                continue
            if target in KEY_ALIASES:
                roles.setdefault(target, idx)
                continue
            fdef = fields.resolve(target)
        else:
            if col in IGNORED_COLUMNS:
                continue
            role = key_of.get(normalize_label(col))
            if role:
                roles.setdefault(role, idx)
                continue
            fdef = fields.resolve(col)
        if fdef is None:
            unmapped.append(col)
        elif fdef.name not in seen:
            seen.add(fdef.name)
            mapped.append((idx, fdef.name))
    return roles, mapped, unmapped


def _text(cell: Any) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip()
    return None if text in MISSING else text


def _code(cell: Any) -> str | None:
    if isinstance(cell, str) and len(cell) == 6 and cell.isdigit():  # the common case: '600201'
        return cell
    text = _text(cell)
    if not text:
        return None
    text = text.split(".")[0]
    return text.zfill(6) if text.isdigit() else text


def _year(cell: Any) -> int | None:
    if isinstance(cell, str) and len(cell) == 4 and cell.isdigit():  # the common case: '2019'
        return int(cell)
    text = _text(cell)
    digits = "".join(ch for ch in (text or "") if ch.isdigit())[:4]
    return int(digits) if len(digits) == 4 else None


def _parse(cell: Any, unit: str):
    text = cell.strip() if isinstance(cell, str) else _text(cell)
    if text is None or text in MISSING:
        return None
    if unit == "text":
        return text
    try:
        # repr of a float cell is its shortest round-trip decimal, the figure as the table shows it.
        number = Decimal(repr(cell)) if isinstance(cell, float) else Decimal(text.replace(",", "") if "," in text else text)
    except InvalidOperation:
        return None
    if number == -1:
        return None
    if unit == "count":
        # Headcounts beyond a billion are extraction errors (digits of two cells run together).
        ok = number == number.to_integral_value() and 0 <= number < 10**9
        return int(number) if ok else None
    return number
