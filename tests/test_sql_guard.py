"""Fuzzing the SQL validator: nothing it accepts reads a table other than company_year and companies.

A small grammar (deterministic seed) mixes what walks around a name-based check: CTE names and derived-table
aliases equal to real tables, nesting (subqueries in FROM, WHERE and SELECT, CTEs inside subqueries,
UNION), comments, casing, quoting, full-width letters and zero-width spaces, schema-qualified names.

The judge is SQLite, not the validator (:class:`Judge`): every accepted statement runs on the store's
read-only connection with an authorizer recording each table and column SQLite reads, over a database whose
other tables (and companies.aliases) hold a sentinel that must never come back, and again on a copy without
those tables, where it must give the same rows. Each raw query is judged unvalidated too, so the figures
show the grammar has teeth (raw queries that do read other tables) and that the validator still accepts
most of what is harmless. Run with ``-s`` to see them.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from knowledge.store import Company, Store, Value
from tools.wide_table import UnsafeSQL, validate

SEED = 20240611
QUERIES = 3000
SENTINEL = "SENTINEL-7f3a"
READABLE = {"company_year", "companies"}
FORBIDDEN_TABLES = ("reports", "chunks", "provenance", "sqlite_master")
# Names a CTE or an alias may take: real tables (allowed or not) and plain ones.
NAMES = FORBIDDEN_TABLES + ("companies", "company_year", "a", "d", "t")
COMMENTS = ("/* c */", "/* , reports */", "-- , chunks\n", "/* /* */", "/*/ provenance */", "--\n")


@dataclass
class Source:
    """A query's text, the columns it exposes, and the name its columns are qualified by."""

    sql: str
    columns: list[str]
    qualifier: str | None = None


@dataclass
class Grammar:
    """Random SELECTs (text) with the columns each exposes, so most of them are well-formed."""

    rng: random.Random
    ctes: list[tuple[str, list[str]]] = field(default_factory=list)

    def query(self, depth: int) -> Source:
        if depth > 0 and self.rng.random() < 0.15:
            left, right = self.select(depth - 1), self.select(depth - 1)
            op = self.rng.choice(("UNION", "UNION ALL", "EXCEPT", "INTERSECT"))
            return Source(f"{left.sql} {op} {right.sql}", left.columns)
        return self.select(depth)

    def select(self, depth: int) -> Source:
        saved = list(self.ctes)
        with_clause = self.with_clause(depth) if depth > 0 and self.rng.random() < 0.35 else ""
        source = self.source(depth)
        joined = [source]
        if self.rng.random() < 0.2:
            other = self.source(depth - 1)
            joined.append(other)
            source = Source(f"{source.sql}{self.rng.choice((', ', ' CROSS JOIN ', ' JOIN '))}{other.sql}"
                            + (" ON 1 = 1" if " JOIN " in source.sql + other.sql and self.rng.random() < 0.5 else ""),
                            source.columns + other.columns)
        projection, columns = self.projection(joined, depth)
        sql = f"{with_clause}SELECT {projection} FROM {source.sql}{self.where(source, depth)}{self.limit()}"
        self.ctes = saved  # a CTE's name ends with its query
        return Source(self.commented(sql), columns)

    def with_clause(self, depth: int) -> str:
        parts = []
        for _ in range(self.rng.choice((1, 1, 2))):
            name = self.rng.choice(NAMES)
            body = self.query(depth - 1)
            parts.append(f"{self.spell(name)} AS ({body.sql})")
            self.ctes.append((name, body.columns))  # visible to later siblings and the query
        return "WITH " + ", ".join(parts) + " "

    def source(self, depth: int) -> Source:
        roll = self.rng.random()
        if depth > 0 and roll < 0.12:
            return self.shadowed(depth)
        if depth > 0 and roll < 0.4:
            inner = self.query(depth - 1)
            alias = self.rng.choice(NAMES)
            return Source(f"({inner.sql}) AS {self.spell(alias)}", inner.columns, alias)
        if self.ctes and roll < 0.6:
            name, columns = self.rng.choice(self.ctes)
            return Source(self.spell(name), columns, name)
        if roll < 0.85:
            name = self.rng.choice(("company_year", "company_year", "companies"))
            columns = ["year", "company_code"] if name == "company_year" else ["code", "short_name"]
        else:
            name, columns = self.rng.choice(FORBIDDEN_TABLES), ["id", "name", "text", "x"]
        alias = self.rng.choice(NAMES) if self.rng.random() < 0.3 else None
        return Source(self.spell(name) + (f" AS {self.spell(alias)}" if alias else ""), columns, alias or name)

    def shadowed(self, depth: int) -> Source:
        """The walk-around itself: a name bound in one scope, read as a table in another."""
        name = self.rng.choice(NAMES)
        inner = f"(WITH {self.spell(name)} AS (SELECT 1 AS x) SELECT x FROM {self.spell(name)})"
        shape = self.rng.choice((f"{inner} AS d, {self.spell(name)}", f"{inner}, {self.spell(name)}",
                                 f"(SELECT 1 AS x) AS {self.spell(name)}, {self.spell(name)}",
                                 f"{inner} AS {self.spell(name)}"))
        return Source(shape, ["x"])

    def projection(self, sources: list[Source], depth: int) -> tuple[str, list[str]]:
        roll = self.rng.random()
        columns = [c for s in sources for c in s.columns] or ["x"]
        if roll < 0.12:
            return "*", columns
        if roll < 0.2:
            return "COUNT(*) AS x", ["x"]
        if roll < 0.28 and sources[0].qualifier:
            return f"{self.spell(sources[0].qualifier)}.*", sources[0].columns
        if roll < 0.34 and depth > 0:
            sub = self.query(depth - 1)
            return f"({sub.sql}) AS x", ["x"]
        if roll < 0.38:
            return self.rng.choice(("aliases", "code AS aliases", "rowid", "name", "sql")) + " AS x", ["x"]
        column = self.rng.choice(columns)
        return f"{self.spell(column, tables=False)} AS x", ["x"]

    def where(self, source: Source, depth: int) -> str:
        roll = self.rng.random()
        column = self.spell(self.rng.choice(source.columns or ["x"]), tables=False)
        if roll < 0.45:
            return ""
        if roll < 0.6:
            return f" WHERE {column} IS NOT NULL"
        if roll < 0.7:
            return f" WHERE {column} IN {self.spell(self.rng.choice(NAMES))}"  # SQLite: a whole table
        if depth > 0 and roll < 0.85:
            return f" WHERE {column} IN ({self.query(depth - 1).sql})"
        if depth > 0:
            sub = self.query(depth - 1)
            kind = self.rng.choice(("EXISTS ", "(SELECT COUNT(*) FROM ", "NOT EXISTS "))
            if kind.startswith("(SELECT"):
                return f" WHERE {kind}({sub.sql}) AS s) >= 0"
            return f" WHERE {kind}({sub.sql})"
        return " WHERE 1 = 1"

    def limit(self) -> str:
        return self.rng.choice(("", "", " LIMIT 5", " LIMIT 100000", " LIMIT -1", " LIMIT 2 OFFSET 1"))

    def spell(self, name: str, *, tables: bool = True) -> str:
        """``name`` as a hostile writer might: cased, quoted, full-width, split, schema-qualified."""
        roll = self.rng.random()
        if roll < 0.5:
            return name
        if roll < 0.62:
            return "".join(c.upper() if self.rng.random() < 0.5 else c for c in name)
        if roll < 0.78:
            return self.rng.choice(('"{}"', "`{}`", "[{}]")).format(name)
        if roll < 0.83:
            return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)
        if roll < 0.88:
            cut = self.rng.randrange(1, max(2, len(name)))
            return name[:cut] + self.rng.choice(("\u200b", "\u200d", "\ufeff")) + name[cut:]
        if roll < 0.96 and tables:
            return self.rng.choice(("main.", "temp.", '"main".', "MAIN.")) + name
        return self.rng.choice(('"{}"', "{}")).format(name.upper())

    def commented(self, sql: str) -> str:
        if self.rng.random() < 0.25:
            words = sql.split(" ")
            at = self.rng.randrange(1, len(words) + 1)
            sql = " ".join(words[:at] + [self.rng.choice(COMMENTS)] + words[at:])
        return sql


@pytest.fixture
def guarded_store(tmp_path):
    """A store with a few companies and, in every table the validator must keep out, the sentinel."""
    store = Store(f"sqlite:///{tmp_path / 'guard.sqlite'}")
    with store.transaction() as conn:
        for i, name in enumerate(("甲公司", "乙公司", "丙公司")):
            code = f"60000{i}"
            store.upsert_company(Company(code, name + "股份有限公司", name, aliases=(SENTINEL,)), conn)
            report = store.add_report(conn, company_code=code, year=2020, file_name=SENTINEL, sha256=f"{SENTINEL}{i}",
                                      pages=1)
            store.record_values(conn, code, 2020, [Value("营业收入", Decimal(i + 1))], source="report", report_id=report)
            store.add_chunks(conn, [{"report_id": report, "company_code": code, "year": 2020, "page": 1,
                                     "section": SENTINEL, "text": SENTINEL}])
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE provenance SET raw_text = ?, raw_label = ?", (SENTINEL, SENTINEL))
    return store


def fold(name: str) -> str:
    """A table name as SQLite compares it (ASCII case only); the judge's own, not the validator's."""
    return name.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


class Reads:
    """An authorizer recording every (table, column) SQLite reads while preparing a statement."""

    def __init__(self):
        self.tables: set[tuple[str, str]] = set()

    def __call__(self, action, table, column, _db, _trigger):
        if action == sqlite3.SQLITE_READ:
            self.tables.add((fold(table or ""), fold(column or "")))
        return sqlite3.SQLITE_OK

    def forbidden(self) -> set[tuple[str, str]]:
        """Reads outside the two tables. A read with no column names the table only (COUNT(*), EXISTS), and
        SQLite reports a derived table's or CTE's alias that way too, so those count here for catalog names
        alone; the stripped copy judges the rest."""
        return {(t, c) for t, c in self.tables
                if (t not in READABLE and (c or t.startswith("sqlite_"))) or (t, c) == ("companies", "aliases")}


@dataclass
class Verdict:
    reads: set[tuple[str, str]]
    rows: list[tuple] | None
    why: str | None  # what another table contributed, or None


class Judge:
    """Runs a statement on the store's read-only connection, then on a copy of the database without the
    other tables (and without companies.aliases): a statement that needs them fails there or answers
    differently. The validator plays no part here."""

    def __init__(self, store: Store, tmp_path):
        self.conn = store._readonly_connection()  # the connection validated statements run on
        stripped = tmp_path / "stripped.sqlite"
        copy = sqlite3.connect(stripped)
        self.conn.backup(copy)
        for table in ("chunks", "provenance", "reports"):
            copy.execute(f"DROP TABLE {table}")
        copy.execute("ALTER TABLE companies DROP COLUMN aliases")
        copy.commit()
        copy.close()
        self.stripped = sqlite3.connect(f"file:{stripped}?mode=ro", uri=True)

    def __call__(self, sql: str) -> Verdict:
        reads, rows = _run(self.conn, sql)
        if reads.forbidden():
            return Verdict(reads.tables, rows, f"read {sorted(reads.forbidden())}")
        if _leaks(rows):
            return Verdict(reads.tables, rows, "returned the sentinel")
        _, alone = _run(self.stripped, sql)
        if rows is not None and (alone is None or sorted(map(repr, alone)) != sorted(map(repr, rows))):
            return Verdict(reads.tables, rows, "needs the other tables")
        return Verdict(reads.tables, rows, None)


def _run(conn: sqlite3.Connection, sql: str) -> tuple[Reads, list[tuple] | None]:
    """What SQLite reads for ``sql`` and the rows it returns (None when it fails)."""
    reads = Reads()
    conn.set_authorizer(reads)
    try:
        return reads, conn.execute(sql).fetchmany(500)
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError):  # prepared (and authorised) first
        return reads, None
    finally:
        conn.set_authorizer(None)


def _leaks(rows: list[tuple] | None) -> bool:
    return any(SENTINEL in str(cell) for row in rows or () for cell in row)


@pytest.fixture
def judge(guarded_store, tmp_path) -> Judge:
    return Judge(guarded_store, tmp_path)


def test_the_judge_sees_what_another_table_gives(judge):
    """The fuzz test's oracle, on statements whose answer is known (none of them validated)."""
    assert judge("SELECT COUNT(*) FROM reports").why
    assert judge("SELECT x FROM (WITH reports AS (SELECT 1 AS x) SELECT x FROM reports), reports").why
    assert judge("SELECT name FROM sqlite_master").why
    assert judge("SELECT * FROM companies").why  # aliases
    assert judge("SELECT year FROM company_year WHERE year IN (SELECT year FROM chunks)").why
    assert judge("WITH reports AS (SELECT year FROM company_year) SELECT COUNT(*) FROM reports").why is None
    assert judge("SELECT x FROM (SELECT 1 AS x) AS reports").why is None
    assert judge("SELECT code, short_name FROM companies").why is None


def test_nothing_the_validator_accepts_reads_another_table(guarded_store, judge):
    store = guarded_store
    rng = random.Random(SEED)
    figures = {name: 0 for name in ("tried", "accepted", "rejected", "violations", "raw_reads_other", "harmless",
                                    "harmless_accepted")}
    violations = []
    for _ in range(QUERIES):
        sql = Grammar(rng).query(rng.choice((1, 2, 2, 3))).sql
        figures["tried"] += 1
        raw = judge(sql)  # the query as written, unvalidated
        harmless = raw.rows is not None and raw.why is None
        figures["raw_reads_other"] += raw.why is not None
        figures["harmless"] += harmless
        try:
            safe = validate(sql, store)
        except UnsafeSQL:
            figures["rejected"] += 1
            continue
        figures["accepted"] += 1
        figures["harmless_accepted"] += harmless
        verdict = judge(safe)
        if verdict.why is not None:
            figures["violations"] += 1
            violations.append((sql, safe, verdict.why))
    print("SQL guard fuzz:", figures)
    assert figures["violations"] == 0, violations[:5]
    assert figures["tried"] == QUERIES
    # The grammar has teeth: run unvalidated, many of its queries do read other tables …
    assert figures["raw_reads_other"] >= QUERIES // 10, figures
    # … and the validator is no wall: it accepts most of the harmless ones, and a good number in all.
    assert figures["harmless"] >= QUERIES // 10, figures
    assert figures["harmless_accepted"] >= 0.6 * figures["harmless"], figures
    assert figures["accepted"] >= QUERIES // 10, figures


@pytest.mark.parametrize("sql", [
    "SELECT * FROM (WITH reports AS (SELECT 1 AS x) SELECT x FROM reports), reports LIMIT 5",
    "SELECT * FROM (WITH chunks AS (SELECT 1 AS x) SELECT x FROM chunks) AS d, chunks",
    "SELECT * FROM (WITH sqlite_master AS (SELECT 1 AS x) SELECT x FROM sqlite_master), sqlite_master",
    "SELECT * FROM (SELECT 1 AS x) AS provenance, provenance",
    ("SELECT x FROM (SELECT 1 AS x) WHERE x IN (WITH reports AS (SELECT 1 AS x) SELECT x FROM reports) "
     "AND x IN (SELECT id FROM reports)"),
    "WITH a AS (WITH reports AS (SELECT 1 AS x) SELECT x FROM reports) SELECT x FROM a UNION SELECT id FROM reports",
    "SELECT year FROM company_year UNION SELECT id FROM chunks",
    "SELECT 1 AS reports, year FROM company_year WHERE year IN reports",
    "SELECT * FROM companies",
    "SELECT c.* FROM companies AS c",
    "SELECT code AS aliases FROM companies",
    "SELECT a.code FROM companies AS a JOIN companies AS b USING (aliases)",
    "SELECT a.code FROM companies AS a NATURAL JOIN companies AS b",
    "SELECT * FROM main.company_year",
    "SELECT * FROM temp.chunks",
    "SELECT * FROM json_each('[1]')",
    "SELECT year FROM company_year WHERE year IN pragma_table_info('reports')",
    "SELECT * INTO reports FROM company_year",
    "SELECT ｙear FROM company_year",
    "WITH sqlite_schema AS (SELECT 1 AS x) SELECT x FROM sqlite_schema",
])
def test_walk_arounds_are_rejected(guarded_store, sql):
    with pytest.raises(UnsafeSQL):
        validate(sql, guarded_store)


@pytest.mark.parametrize("sql", [
    "WITH reports AS (SELECT year AS x FROM company_year) SELECT x FROM reports",
    "SELECT x FROM (WITH chunks AS (SELECT year AS x FROM company_year) SELECT x FROM chunks) AS provenance",
    "WITH a AS (SELECT year FROM company_year), b AS (SELECT year FROM a) SELECT year FROM b",
    "SELECT year FROM company_year UNION SELECT 2020 ORDER BY year",
    "SELECT n FROM (SELECT COUNT(*) AS n FROM company_year WHERE year = 2020) AS d",
    "SELECT c.short_name FROM companies AS c WHERE c.code IN (SELECT company_code FROM company_year)",
    "SELECT YEAR FROM COMPANY_YEAR /* a comment */ -- and another\n",
    ("WITH RECURSIVE r(n) AS (SELECT 2019 UNION ALL SELECT n + 1 FROM r WHERE n < 2021) "
     "SELECT r.n, COUNT(y.year) AS k FROM r LEFT JOIN company_year AS y ON y.year = r.n GROUP BY r.n"),
])
def test_shadowing_that_sqlite_resolves_the_same_way_is_accepted(guarded_store, judge, sql):
    verdict = judge(validate(sql, guarded_store))
    assert verdict.rows is not None and verdict.why is None


def test_the_outermost_limit_is_enforced_on_a_union(guarded_store):
    safe = validate("SELECT year FROM company_year UNION ALL SELECT year FROM company_year LIMIT 100000",
                    guarded_store, max_limit=7)
    assert safe.endswith("LIMIT 7") and safe.count("LIMIT") == 1
    assert validate("SELECT year FROM company_year LIMIT -1", guarded_store).endswith("LIMIT 200")


def test_comments_are_not_carried_into_the_statement_that_runs(guarded_store):
    safe = validate("SELECT year FROM company_year /* , reports */ -- , chunks\n", guarded_store)
    assert "/*" not in safe and "--" not in safe and "reports" not in safe and "chunks" not in safe


@pytest.mark.parametrize("sql", [
    "SELECT 2000000020 AS 最低02",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r",
    "SELECT 1 FROM (SELECT 2 AS x) AS d",
])
def test_a_query_reading_no_report_table_is_refused(guarded_store, sql):
    """A broken NL2SQL reply must not become a figure computed from nothing."""
    with pytest.raises(UnsafeSQL, match="没有读取年报数据表"):
        validate(sql, guarded_store)


def test_a_reply_that_is_no_sql_is_not_completed_into_one():
    from tools.sql import strip_model_sql

    assert strip_model_sql("2000000020 最低02") == "2000000020 最低02"
    assert strip_model_sql("COUNT(*) FROM company_year;") == "SELECT COUNT(*) FROM company_year"
    assert strip_model_sql("```sql\nSELECT 1 FROM companies;\n```") == "SELECT 1 FROM companies"
