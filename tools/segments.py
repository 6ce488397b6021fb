"""A company's own business segments (主营业务分行业/分产品/分地区), as its report prints them: plain arguments in,
a ToolResult out, every figure cited on the page of its row."""

from __future__ import annotations

from knowledge.store import Store
from tools.results import ToolResult
from understanding.segments import metric_specs, segment_rules


def segment_lookup(store: Store, code: str, years: list[int], name: str, figures: list[str], *,
                   dimension: str | None = None, company_label: str | None = None,
                   segment_label: str | None = None) -> ToolResult:
    """``figures`` (columns of the `segments` table) of segment ``name`` of company ``code`` in each of ``years``,
    from the table ``dimension`` names, else the first table that prints the name (分行业 before 分产品 before
    分地区). A year without the row, or a figure the row leaves empty, is named as missing, never filled."""
    specs, tables = metric_specs(), segment_rules()["table_names"]
    label = segment_label or name
    company = company_label or code
    values, citations, missing = [], [], []
    for year in years:
        row = _row(store.segments(code, year), name, dimension)
        for figure in figures:
            spec = specs[figure]
            field = f"{label}的{spec['label']}"
            if row is None or row.get(figure) is None:
                missing.append(f"{company}{year}年{field}")
                continue
            table = tables.get(row["dimension"], row["dimension"])
            values.append({"company": company, "code": code, "year": year, "field": field, "value": row[figure],
                           "unit": spec["unit"], "page": row["page"], "source": "report", "table": table,
                           "segment": row["name"], "dimension": row["dimension"]})
            citation = {"page": row["page"], "text": row["raw_text"], "file": row.get("file_name")}
            if citation not in citations:  # one row gives each of its figures
                citations.append(citation)
    return ToolResult(kind="segment" if values else "refusal", values=values, citations=citations, missing=missing)


def _row(rows: list[dict], name: str, dimension: str | None) -> dict | None:
    """The row of ``name``: from the table ``dimension`` names, else the first table (in the order of
    knowledge/business.toml's table_names) that prints it."""
    order = list(segment_rules()["table_names"])
    named = [r for r in rows if r["name"] == name]
    named.sort(key=lambda r: (r["dimension"] != dimension,
                              order.index(r["dimension"]) if r["dimension"] in order else len(order)))
    return named[0] if named else None
