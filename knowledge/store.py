"""SQL storage: company registry, reports, the wide table ``company_year``, provenance and text chunks.

The wide table has one row per company-year and one nullable column per canonical field (named as
the field is, in Chinese). Money is an exact decimal in yuan: ``NUMERIC`` on PostgreSQL; on SQLite,
whose numbers are doubles, values come back through ``repr`` of the double, which is the shortest
decimal that round-trips — exact for every figure of up to 15 significant digits (a bank's total
assets to the fen has 16; the raw cell text in ``provenance`` is always exact).

Which value a wide-table cell holds is decided in one place, :meth:`Store.record_values`, by the rank
of its source: a year's own report beats the prior-year column of the next report, which beats an
imported table. Every candidate is kept in ``provenance``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

from knowledge.extras import require
from knowledge.fields import FieldDictionary, field_dictionary


class ExactDecimal(TypeDecorator):
    """Decimal in, Decimal out; NUMERIC where the database has it."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Float(asdecimal=False))
        return dialect.type_descriptor(Numeric(30, 6, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(str(value)) if not isinstance(value, Decimal) else value
        return float(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            return Decimal(repr(value))
        # NUMERIC(30, 6) pads to six places; give back the figure as written (905402299.44).
        value = Decimal(value)
        return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


# Source ranks: higher wins the wide-table cell.
SOURCE_RANK = {"import": 1, "report_prior_year": 2, "report": 3}

WIDE_TABLE = "company_year"
SCHEMA_ATTEMPTS = 5  # a schema step that lost a race is looked at again, this many times at most
KEY_COLUMNS = ("company_code", "year")


def column_type(unit: str):
    if unit == "text":
        return Text()
    if unit == "count":
        return BigInteger()
    return ExactDecimal()


SEGMENTS_TABLE = "segments"
# A segment row's figures: 营业收入 and 营业成本 in 元, 毛利率 and the changes on the prior year in percent (毛利率's
# change in percentage points), exact as printed.
SEGMENT_FIGURES = ("revenue", "cost", "margin", "revenue_change", "cost_change", "margin_change")


def build_metadata(fields: FieldDictionary) -> MetaData:
    md = MetaData()
    Table(
        "companies",
        md,
        Column("code", String(12), primary_key=True),
        Column("full_name", Text, nullable=False),
        Column("short_name", Text),
        Column("aliases", Text, nullable=False, default="[]"),  # JSON list
    )
    Table(
        "reports",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("company_code", String(12), ForeignKey("companies.code"), nullable=False),
        Column("year", Integer, nullable=False),
        Column("file_name", Text, nullable=False),
        Column("sha256", String(64), nullable=False, unique=True),
        Column("pages", Integer),
        Column("status", String(16), nullable=False),  # ok | failed
        Column("error", Text),
        Column("ingested_at", DateTime, server_default=func.now()),
    )
    Table(
        WIDE_TABLE,
        md,
        Column("company_code", String(12), ForeignKey("companies.code"), primary_key=True),
        Column("year", Integer, primary_key=True),
        *[Column(f.name, column_type(f.unit), nullable=True) for f in fields],
    )
    Table(
        "provenance",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("company_code", String(12), nullable=False, index=True),
        Column("year", Integer, nullable=False),
        Column("field", Text, nullable=False),
        Column("value", Text),  # exact text of the parsed value
        Column("source", String(24), nullable=False),  # see SOURCE_RANK
        Column("report_id", Integer, ForeignKey("reports.id")),
        Column("page", Integer),
        Column("raw_label", Text),
        Column("raw_text", Text),
        Column("note", Text),  # e.g. "restated (调整后)"
        Column("audit", Text),  # the report's accounting identities this value fails, "; "-joined (else NULL)
    )
    Table(
        "report_audit",  # the self-audit of a report: each identity in each column it prints
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("report_id", Integer, ForeignKey("reports.id"), nullable=False, index=True),
        Column("company_code", String(12), nullable=False),
        Column("year", Integer, nullable=False),  # the year of the column audited
        Column("column_name", String(16), nullable=False),  # current | prior | restated
        Column("statement", String(16), nullable=False),
        Column("identity", Text, nullable=False),
        Column("status", String(16), nullable=False),  # passed | failed | not_checked
        Column("fields", Text, nullable=False),  # JSON list: the values used, or those missing
        Column("total", Text),  # exact decimal text, yuan
        Column("computed", Text),
        Column("difference", Text),
        Column("tolerance", Text),
    )
    Table(
        SEGMENTS_TABLE,  # the 主营业务分行业/分产品/分地区 rows of a report: segments named as the company prints them
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("report_id", Integer, ForeignKey("reports.id"), nullable=False, index=True),
        Column("company_code", String(12), nullable=False, index=True),
        Column("year", Integer, nullable=False),
        Column("dimension", String(8), nullable=False),  # 分行业 | 分产品 | 分地区
        Column("name", Text, nullable=False),
        *[Column(name, Text) for name in SEGMENT_FIGURES],  # exact decimal text, as printed (17.30)
        Column("page", Integer),
        Column("raw_text", Text),
    )
    Table(
        "chunks",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("report_id", Integer, ForeignKey("reports.id"), nullable=False, index=True),
        Column("company_code", String(12), nullable=False),
        Column("year", Integer, nullable=False),
        Column("page", Integer, nullable=False),
        Column("section", Text),
        Column("text", Text, nullable=False),
        UniqueConstraint("report_id", "page", "section", "text", name="uq_chunk"),
    )
    return md


@dataclass(frozen=True)
class Value:
    """One extracted or imported figure, with where it came from."""

    field: str
    value: Any  # Decimal | int | str
    page: int | None = None
    raw_label: str | None = None
    raw_text: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Company:
    code: str
    full_name: str
    short_name: str | None
    aliases: tuple[str, ...] = ()


class Store:
    def __init__(self, url: str, fields: FieldDictionary | None = None):
        self.url = url
        self.fields = fields or field_dictionary()
        if url.startswith("postgresql"):
            require("postgres", "a PostgreSQL database_url", modules=("psycopg",))
        self.engine: Engine = create_engine(url, future=True)
        self._readonly = threading.local()  # per thread: see _readonly_connection
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.metadata = build_metadata(self.fields)
        self.t = self.metadata.tables
        self.create_schema()

    # Schema ------------------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create missing tables, and add wide-table columns for fields added to the dictionary.

        Idempotent under a race: two processes opening a new database at once both find a table missing
        and both create it. The loser's "already exists" (or "duplicate column") is no error once a
        fresh look finds everything there; the step is retried until it does."""
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                self._create_missing()
                return
            except DBAPIError as exc:
                if attempt == SCHEMA_ATTEMPTS - 1 or not _created_meanwhile(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _create_missing(self) -> None:
        self.metadata.create_all(self.engine)
        # New fields of the dictionary, and columns added since a database was made (provenance.audit).
        for table in (WIDE_TABLE, "provenance"):
            existing = {c["name"] for c in inspect(self.engine).get_columns(table)}
            missing = [c for c in self.t[table].columns if c.name not in existing]
            if missing:
                with self.engine.begin() as conn:
                    for col in missing:
                        ddl = col.type.compile(dialect=self.engine.dialect)
                        conn.execute(text(f'ALTER TABLE {table} ADD COLUMN "{col.name}" {ddl}'))

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.engine.begin() as conn:
            yield conn

    # Companies and reports ---------------------------------------------------------------------
    def upsert_company(self, company: Company, conn=None) -> None:
        with self._conn(conn) as c:
            table = self.t["companies"]
            row = c.execute(select(table).where(table.c.code == company.code)).mappings().first()
            aliases = set(company.aliases)
            if row is None:
                c.execute(
                    table.insert().values(
                        code=company.code,
                        full_name=company.full_name,
                        short_name=company.short_name,
                        aliases=json.dumps(sorted(aliases), ensure_ascii=False),
                    )
                )
                return
            aliases |= set(json.loads(row["aliases"] or "[]"))
            # A renamed company keeps its old names as aliases.
            for old in (row["full_name"], row["short_name"]):
                if old and old not in (company.full_name, company.short_name):
                    aliases.add(old)
            c.execute(
                table.update()
                .where(table.c.code == company.code)
                .values(
                    full_name=company.full_name or row["full_name"],
                    short_name=company.short_name or row["short_name"],
                    aliases=json.dumps(sorted(aliases), ensure_ascii=False),
                )
            )

    def companies(self) -> list[Company]:
        with self.engine.connect() as c:
            rows = c.execute(select(self.t["companies"])).mappings().all()
        return [
            Company(r["code"], r["full_name"], r["short_name"], tuple(json.loads(r["aliases"] or "[]")))
            for r in rows
        ]

    def company(self, code: str) -> Company | None:
        with self.engine.connect() as c:
            r = c.execute(select(self.t["companies"]).where(self.t["companies"].c.code == code)).mappings().first()
        if r is None:
            return None
        return Company(r["code"], r["full_name"], r["short_name"], tuple(json.loads(r["aliases"] or "[]")))

    def report_by_sha256(self, sha256: str, conn=None) -> dict | None:
        with self._conn(conn) as c:
            r = c.execute(select(self.t["reports"]).where(self.t["reports"].c.sha256 == sha256)).mappings().first()
        return dict(r) if r else None

    def reports_for(self, company_code: str, year: int, conn=None) -> list[dict]:
        """The stored reports of one company-year: one at most, since a second with other bytes is a
        conflict or replaces it (a database from before that rule may hold more)."""
        table = self.t["reports"]
        q = select(table).where(table.c.company_code == company_code, table.c.year == int(year)).order_by(table.c.id)
        with self._conn(conn) as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def has_reports(self) -> bool:
        with self.engine.connect() as c:
            return c.execute(select(self.t["reports"].c.id).limit(1)).first() is not None

    def reports(self, company_code: str | None = None) -> list[dict]:
        q = select(self.t["reports"])
        if company_code:
            q = q.where(self.t["reports"].c.company_code == company_code)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q.order_by(self.t["reports"].c.id)).mappings()]

    def add_report(self, conn, *, company_code: str, year: int, file_name: str, sha256: str, pages: int) -> int:
        table = self.t["reports"]
        conn.execute(table.delete().where(table.c.sha256 == sha256))
        result = conn.execute(
            table.insert().values(
                company_code=company_code, year=year, file_name=file_name, sha256=sha256, pages=pages, status="ok"
            )
        )
        return int(result.inserted_primary_key[0])

    def remove_report(self, conn, report_id: int) -> None:
        """Remove a report and all it contributed (``--force``, or a report replaced by another of its
        company-year): its provenance, its chunks, its row. Each wide-table cell it had a candidate for
        falls back to the best candidate left, by source rank, the latest of equals (as :meth:`record_values`
        would have chosen), or is emptied; a company-year with no candidate left loses its row. A cell an
        import set with ``overwrite`` over a report's value is then re-decided by rank."""
        prov = self.t["provenance"]
        touched: dict[tuple[str, int], set[str]] = {}
        for code, year, field in conn.execute(
            select(prov.c.company_code, prov.c.year, prov.c.field).where(prov.c.report_id == report_id).distinct()
        ):
            touched.setdefault((code, year), set()).add(field)
        conn.execute(prov.delete().where(prov.c.report_id == report_id))
        conn.execute(self.t["report_audit"].delete().where(self.t["report_audit"].c.report_id == report_id))
        conn.execute(self.t["chunks"].delete().where(self.t["chunks"].c.report_id == report_id))
        conn.execute(self.t[SEGMENTS_TABLE].delete().where(self.t[SEGMENTS_TABLE].c.report_id == report_id))
        conn.execute(self.t["reports"].delete().where(self.t["reports"].c.id == report_id))
        for (code, year), fields in touched.items():
            self._redecide_cells(conn, code, year, fields)

    def _redecide_cells(self, conn, company_code: str, year: int, fields: set[str]) -> None:
        prov, wide = self.t["provenance"], self.t[WIDE_TABLE]
        here = (prov.c.company_code == company_code) & (prov.c.year == year)
        if conn.execute(select(prov.c.id).where(here).limit(1)).first() is None:
            conn.execute(wide.delete().where((wide.c.company_code == company_code) & (wide.c.year == year)))
            return
        best: dict[str, Any] = {}
        rows = conn.execute(
            select(prov.c.field, prov.c.value).where(here, prov.c.field.in_(sorted(fields)))
            .order_by(_rank_case(prov.c.source), prov.c.id)  # ascending: the winner comes last
        )
        for field, value in rows:
            best[field] = value
        updates = {f: _typed(self.fields[f].unit, best[f]) if f in best else None
                   for f in fields if f in self.fields}
        if updates:
            self._upsert_row(conn, company_code, year, updates)

    # The wide table ----------------------------------------------------------------------------
    def record_values(
        self,
        conn,
        company_code: str,
        year: int,
        values: Iterable[Value],
        *,
        source: str,
        report_id: int | None = None,
        overwrite: bool = False,
    ) -> int:
        """Keep every value in ``provenance``; put it in the wide table when its source ranks at least
        as high as the one there now (or ``overwrite``). Returns how many cells were set."""
        rank = SOURCE_RANK[source]
        values = [v for v in values if v.field in self.fields and v.value is not None]
        if not values:
            return 0
        prov = self.t["provenance"]
        conn.execute(
            prov.insert(),
            [
                dict(
                    company_code=company_code,
                    year=year,
                    field=v.field,
                    value=_exact_text(v.value),
                    source=source,
                    report_id=report_id,
                    page=v.page,
                    raw_label=v.raw_label,
                    raw_text=v.raw_text,
                    note=v.note,
                )
                for v in values
            ],
        )
        # Best rank already held per field for this company-year (from other rows of provenance).
        held = dict(
            conn.execute(
                select(prov.c.field, func.max(_rank_case(prov.c.source)))
                .where(prov.c.company_code == company_code, prov.c.year == year)
                .where(prov.c.field.in_([v.field for v in values]))
                .where((prov.c.report_id != report_id) if report_id is not None else (prov.c.source != source))
                .group_by(prov.c.field)
            ).all()
        )
        updates = {v.field: _typed(self.fields[v.field].unit, v.value) for v in values
                   if overwrite or rank >= (held.get(v.field) or 0)}
        if updates:
            self._upsert_row(conn, company_code, year, updates)
        return len(updates)

    def record_values_many(
        self,
        conn,
        rows: Iterable[tuple[str, int, Sequence[Value]]],
        *,
        source: str,
        overwrite: bool = False,
    ) -> int:
        """:meth:`record_values` for many company-years at once (bulk imports), same ranking rule.

        One ``executemany`` for provenance, one query for the ranks already held, one bulk insert
        for new wide-table rows; only rows that already exist are updated one by one. Returns how
        many cells were set.
        """
        rank = SOURCE_RANK[source]
        batch = {}
        for code, year, values in rows:
            vals = [v for v in values if v.field in self.fields and v.value is not None]
            if vals:
                batch.setdefault((code, int(year)), []).extend(vals)
        if not batch:
            return 0
        prov, wide = self.t["provenance"], self.t[WIDE_TABLE]
        held: dict[tuple[str, int, str], int] = {}
        if not overwrite:
            # Ranks held by other sources (rows of this same source are being replaced by rank tie).
            q = (
                select(prov.c.company_code, prov.c.year, prov.c.field, func.max(_rank_case(prov.c.source)))
                .where(prov.c.source != source)
                .group_by(prov.c.company_code, prov.c.year, prov.c.field)
            )
            held = {(c, y, f): r for c, y, f, r in conn.execute(q)}
        _bulk_insert(
            conn, prov,
            ("company_code", "year", "field", "value", "source", "page", "raw_label", "raw_text", "note"),
            [(code, year, v.field, _exact_text(v.value), source, v.page, v.raw_label, v.raw_text, v.note)
             for (code, year), vals in batch.items() for v in vals],
        )
        existing = {(c, y) for c, y in conn.execute(select(wide.c.company_code, wide.c.year))}
        inserts, cells = [], 0
        for (code, year), vals in batch.items():
            updates = {v.field: _typed(self.fields[v.field].unit, v.value) for v in vals
                       if overwrite or rank >= held.get((code, year, v.field), 0)}
            if not updates:
                continue
            cells += len(updates)
            if (code, year) in existing:
                conn.execute(wide.update().where((wide.c.company_code == code) & (wide.c.year == year))
                             .values(**updates))
            else:
                inserts.append({"company_code": code, "year": year, **updates})
        # executemany needs one column set: pad every new row to the union of columns.
        columns = sorted({k for r in inserts for k in r})
        if inserts:
            _bulk_insert(conn, wide, columns, [tuple(r.get(c) for c in columns) for r in inserts])
        return cells

    def _upsert_row(self, conn, company_code: str, year: int, updates: dict[str, Any]) -> None:
        wide = self.t[WIDE_TABLE]
        key = (wide.c.company_code == company_code) & (wide.c.year == year)
        exists = conn.execute(select(wide.c.year).where(key)).first()
        if exists:
            conn.execute(wide.update().where(key).values(**updates))
        else:
            conn.execute(wide.insert().values(company_code=company_code, year=year, **updates))

    def row(self, company_code: str, year: int) -> dict[str, Any] | None:
        wide = self.t[WIDE_TABLE]
        with self.engine.connect() as c:
            r = c.execute(select(wide).where(wide.c.company_code == company_code, wide.c.year == year)).mappings().first()
        if r is None:
            return None
        return {k: v for k, v in r.items() if k not in KEY_COLUMNS and v is not None}

    def years(self, company_code: str) -> list[int]:
        wide = self.t[WIDE_TABLE]
        with self.engine.connect() as c:
            return [y for (y,) in c.execute(select(wide.c.year).where(wide.c.company_code == company_code).order_by(wide.c.year))]

    def latest_year(self, company_code: str | None = None) -> int | None:
        """The latest year the wide table holds: of one company, or of any."""
        wide = self.t[WIDE_TABLE]
        q = select(func.max(wide.c.year))
        if company_code is not None:
            q = q.where(wide.c.company_code == company_code)
        with self.engine.connect() as c:
            return c.execute(q).scalar()

    def provenance(self, company_code: str, year: int, fields: Sequence[str] | None = None) -> list[dict]:
        """Every candidate value for the company-year, best source first; joined with its report.

        Plain SQL on the read-only connection: a lookup asks this on every turn, and building and
        executing the same statement through SQLAlchemy's expression layer cost more than the query."""
        sql = ("SELECT p.*, r.file_name, r.year AS report_year FROM provenance AS p LEFT JOIN reports AS r ON r.id = p.report_id "
               "WHERE p.company_code = :code AND p.year = :year")
        params: dict[str, Any] = {"code": company_code, "year": int(year)}
        if fields:
            sql += " AND p.field IN (" + ", ".join(f":f{i}" for i in range(len(fields))) + ")"
            params |= {f"f{i}": f for i, f in enumerate(fields)}
        cols, rows = self.readonly_query(sql, params)
        out = [dict(zip(cols, row)) for row in rows]
        out.sort(key=lambda r: (-SOURCE_RANK.get(r["source"], 0), r["id"]))
        return out

    # The self-audit ----------------------------------------------------------------------------
    def record_audit(self, conn, report_id: int, company_code: str, checks: Iterable[dict]) -> None:
        """Store a report's audit (``checks``: ``year, column_name, statement, identity, status, fields`` and
        the decimals ``total, computed, difference, tolerance``), and flag, in the provenance this report
        gave, each value a failed identity used."""
        rows = [{**c, "report_id": report_id, "company_code": company_code,
                 "fields": json.dumps(list(c["fields"]), ensure_ascii=False),
                 **{k: None if c.get(k) is None else _exact_text(c[k])
                    for k in ("total", "computed", "difference", "tolerance")}} for c in checks]
        if not rows:
            return
        conn.execute(self.t["report_audit"].insert(), rows)
        flags: dict[tuple[int, str], list[str]] = {}
        for c in checks:
            if c["status"] == "failed":
                for f in c["fields"]:
                    flags.setdefault((int(c["year"]), f), []).append(c["identity"])
        prov = self.t["provenance"]
        for (year, f), identities in flags.items():
            conn.execute(prov.update().where(prov.c.report_id == report_id, prov.c.year == year, prov.c.field == f)
                         .values(audit="; ".join(dict.fromkeys(identities))))

    def audit(self, company_code: str, year: int) -> list[dict]:
        """The audited identities of a company-year (its own report's current column, and the prior-year
        columns of the next one), with the report's file; ``fields`` as a list."""
        audit, reports = self.t["report_audit"], self.t["reports"]
        q = (select(audit, reports.c.file_name).join(reports, reports.c.id == audit.c.report_id)
             .where(audit.c.company_code == company_code, audit.c.year == int(year)).order_by(audit.c.id))
        with self.engine.connect() as c:
            return [{**r, "fields": json.loads(r["fields"])} for r in c.execute(q).mappings()]

    # Business segments -------------------------------------------------------------------------
    def record_segments(self, conn, report_id: int, company_code: str, year: int, rows: Iterable[dict]) -> None:
        """Store a report's segment rows (``rows``: ``dimension, name, page, raw_text`` and the figures)."""
        columns = ("dimension", "name", *SEGMENT_FIGURES, "page", "raw_text")
        values = [{**{k: r.get(k) for k in columns}, **{k: _optional_text(r.get(k)) for k in SEGMENT_FIGURES},
                   "report_id": report_id, "company_code": company_code, "year": int(year)} for r in rows]
        if values:
            conn.execute(self.t[SEGMENTS_TABLE].insert(), values)

    def segments(self, company_code: str, year: int | None = None) -> list[dict]:
        """A company's segment rows (of one year, or all), in the order they were printed, with the report's file."""
        seg, reports = self.t[SEGMENTS_TABLE], self.t["reports"]
        q = select(seg, reports.c.file_name).join(reports, reports.c.id == seg.c.report_id) \
            .where(seg.c.company_code == company_code)
        if year is not None:
            q = q.where(seg.c.year == int(year))
        with self.engine.connect() as c:
            rows = [dict(r) for r in c.execute(q.order_by(seg.c.id)).mappings()]
        return [{**r, **{k: None if r[k] is None else Decimal(r[k]) for k in SEGMENT_FIGURES}} for r in rows]

    # Chunks ------------------------------------------------------------------------------------
    def add_chunks(self, conn, rows: list[dict]) -> None:
        if rows:
            conn.execute(self.t["chunks"].insert(), rows)

    def chunks(self, company_code: str | None = None, year: int | None = None) -> list[dict]:
        t = self.t["chunks"]
        q = select(t)
        if company_code:
            q = q.where(t.c.company_code == company_code)
        if year:
            q = q.where(t.c.year == year)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q.order_by(t.c.id)).mappings()]

    # Read-only SQL -----------------------------------------------------------------------------
    def readonly_query(self, sql: str, params: dict | None = None, timeout_s: float = 5.0) -> tuple[list[str], list[tuple]]:
        """Run one validated SELECT on a read-only connection, aborting after ``timeout_s``."""
        if self.engine.dialect.name == "sqlite":
            return self._sqlite_readonly(sql, params or {}, timeout_s)
        with self.engine.connect() as c:
            c.exec_driver_sql("SET TRANSACTION READ ONLY")
            c.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
            result = c.execute(text(sql), params or {})
            return list(result.keys()), [tuple(r) for r in result.fetchall()]

    def _sqlite_readonly(self, sql: str, params: dict, timeout_s: float):
        conn = self._readonly_connection()
        deadline = time.monotonic() + timeout_s
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        try:
            cur = conn.execute(sql, params)
            cols = [d[0] for d in cur.description or ()]
            return cols, cur.fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise TimeoutError(f"SQL ran past {timeout_s}s") from exc
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def _readonly_connection(self) -> sqlite3.Connection:
        """This thread's read-only connection, opened once: opening one per query re-read the wide
        table's schema (hundreds of columns) every time, the largest cost of a lookup."""
        conn = getattr(self._readonly, "conn", None)
        if conn is None:
            db_path = self.engine.url.database
            if not db_path or db_path == ":memory:":
                raise RuntimeError("read-only queries need a file database")
            conn = self._readonly.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        return conn

    @contextmanager
    def _conn(self, conn):
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as c:
                yield c


def _bulk_insert(conn, table: Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """executemany on the driver, with each column's bind processing: building SQLAlchemy parameters
    per row costs more than the insert itself at a million rows."""
    if not rows:
        return
    dialect = conn.dialect
    procs = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    if any(procs):
        rows = [tuple(p(v) if p else v for p, v in zip(procs, row)) for row in rows]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO {table.name} ({names}) VALUES ({", ".join([mark] * len(columns))})'
    conn.exec_driver_sql(sql, rows)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")  # first: switching a new file to WAL waits for a lock too
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _created_meanwhile(exc: DBAPIError) -> bool:
    """Whether a schema statement failed because another process created the same thing first
    (SQLite: "table … already exists", "duplicate column name"; PostgreSQL: "… already exists")."""
    message = str(exc.orig).lower()
    return "already exists" in message or "duplicate column" in message


def _rank_case(source_col):
    return case(*[(source_col == s, r) for s, r in SOURCE_RANK.items()], else_=0)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _exact_text(value)


def _exact_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _typed(unit: str, value: Any):
    if unit == "text":
        return str(value)
    if unit == "count":
        return int(Decimal(str(value)))
    return value if isinstance(value, Decimal) else Decimal(str(value))


_STORES: dict[str, Store] = {}


def store_for(settings) -> Store:
    """One Store (engine, schema check) per database URL per process."""
    url = settings.db_url
    if url not in _STORES:
        if url.startswith("sqlite:///"):
            settings.ensure_home()
        _STORES[url] = Store(url)
    return _STORES[url]
