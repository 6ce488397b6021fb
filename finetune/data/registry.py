"""The company registry the builders draw names from.

A 300-company sample ships with the package (code, full name, short name: public facts) so that the
builders and their tests need nothing outside the repository; the full report list
(``company_annual_reports.xlsx`` of the community tables) can be passed instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from finetune.data.resources import REGISTRY_SAMPLE
from knowledge.store import Company

# Column names of the community report list.
_XLSX_COLUMNS = {"code": "stock_code", "full_name": "company_full_name", "short_name": "company_short_name"}


def load_registry(path: Path | str | None = None) -> list[Company]:
    """Companies from a ``.jsonl`` registry (default: the bundled sample) or the report-list ``.xlsx``."""
    path = Path(path) if path else REGISTRY_SAMPLE
    rows = _xlsx_rows(path) if path.suffix.lower() in (".xlsx", ".xls") else _jsonl_rows(path)
    return _merge(rows)


def _jsonl_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _xlsx_rows(path: Path) -> list[dict]:
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = [str(h).strip() for h in sheet[0]]
    missing = [c for c in _XLSX_COLUMNS.values() if c not in header]
    if missing:
        raise ValueError(f"{path}: the report list lacks the columns {missing}")
    col = {key: header.index(name) for key, name in _XLSX_COLUMNS.items()}
    return [{key: str(row[i]).strip() for key, i in col.items()} for row in sheet[1:] if row[col["code"]]]


def _merge(rows: list[dict]) -> list[Company]:
    """One company per code; a code listed under several names (renamed companies, one row per
    report) keeps the last names and the others as aliases."""
    by_code: dict[str, list[dict]] = {}
    for row in rows:
        code = str(row["code"]).split(".")[0].zfill(6)
        by_code.setdefault(code, []).append(row)
    companies = []
    for code, entries in sorted(by_code.items()):
        last = entries[-1]
        names = {n for e in entries for n in (e["full_name"], e.get("short_name")) if n}
        aliases = tuple(sorted(names - {last["full_name"], last.get("short_name")}))
        companies.append(Company(code, last["full_name"], last.get("short_name") or None, aliases))
    return companies
