import sqlite3
from decimal import Decimal

import pytest
from community_fixture import bench_sample, community  # noqa: F401

from agent.structured import ask_structured
from graph import tool_calls
from tools import sql
from tools.wide_table import UnsafeSQL, run, validate
from understanding.question import understand


@pytest.mark.parametrize("sql", [
    "DROP TABLE companies",
    "DELETE FROM company_year",
    "SELECT 1; DELETE FROM companies",
    "SELECT * FROM sqlite_master",
    "SELECT name FROM pragma_table_info('companies')",
    "SELECT load_extension('x')",
    "SELECT aliases FROM companies",
    "ATTACH DATABASE 'x.db' AS y",
    "PRAGMA writable_schema = 1",
    "UPDATE companies SET full_name = 'x'",
    "SELECT y.\"营业收入\" FROM other.company_year AS y",
    "INSERT INTO companies(code, full_name) VALUES ('1', 'x')",
    # A CTE or derived-table alias named like a real table does not let that table through elsewhere.
    "SELECT * FROM (WITH reports AS (SELECT 1 AS x) SELECT x FROM reports), reports LIMIT 5",
    "SELECT * FROM (WITH chunks AS (SELECT 1 AS x) SELECT x FROM chunks), chunks LIMIT 5",
    "SELECT * FROM (WITH sqlite_master AS (SELECT 1 AS x) SELECT x FROM sqlite_master), sqlite_master LIMIT 5",
    "SELECT * FROM (SELECT 1 AS x) AS reports, reports",
    "SELECT year FROM company_year WHERE year IN (SELECT year FROM chunks)",
    "SELECT year FROM company_year UNION SELECT year FROM provenance",
    "SELECT year FROM company_year WHERE year IN reports",
    "SELECT * FROM companies",
    "SELECT code AS aliases FROM companies",
])
def test_validation_rejects_anything_but_a_whitelisted_select(community, sql):
    store, _settings, _ = community
    with pytest.raises(UnsafeSQL):
        validate(sql, store)


def test_limit_is_enforced(community):
    store, _settings, _ = community
    assert validate('SELECT y."营业收入" FROM company_year AS y', store).endswith("LIMIT 200")
    assert validate("SELECT year FROM company_year LIMIT 100000", store).endswith("LIMIT 200")
    assert validate("SELECT year FROM company_year LIMIT 5", store).endswith("LIMIT 5")


def test_the_connection_is_read_only(community):
    store, _settings, _ = community
    with pytest.raises(sqlite3.OperationalError):
        store.readonly_query("DELETE FROM companies", {})


def test_lookup_values_carry_provenance_and_sql(community):
    store, settings, _ = community
    item = next(it for it in bench_sample() if it["type"] == "1-2" and not it["prompt"]["key_word"].startswith("无|"))
    u = understand(item["question"], store)
    result = tool_calls.lookup(store, u, settings)
    assert result.kind == "lookup" and result.sql.startswith("SELECT")
    words = item["prompt"]["key_word"].split("、")
    assert len(result.values) == len(words)
    for v in result.values:
        assert v["source"] == "import" and v["code"] == u.companies[0].code
    got = sorted(str(v["value"]) for v in result.values)
    want = sorted(item["prompt"][w].removesuffix("元") for w in words)
    assert got == want


def _python_ranking(store, year, field):
    rows = []
    for c in store.companies():
        v = (store.row(c.code, year) or {}).get(field)
        if v is not None:
            rows.append((v, c.code))
    return rows


def test_rank_matches_python(community):
    store, settings, _ = community
    u = understand("2020年营业收入最高的前3家公司是哪些？", store)
    result = tool_calls.statistic(store, u, settings)
    want = [code for _v, code in sorted(_python_ranking(store, 2020, "营业收入"), key=lambda p: (-p[0], p[1]))[:3]]
    assert [v["code"] for v in result.values] == want
    u = understand("2020年净利润第二低的公司是哪家？", store)
    result = tool_calls.statistic(store, u, settings)
    want = sorted(_python_ranking(store, 2020, "净利润"), key=lambda p: (p[0], p[1]))[1][1]
    assert [v["code"] for v in result.values] == [want]


def test_count_matches_python(community):
    store, settings, _ = community
    u = understand("2020年营业收入超过10亿元的公司有多少家？", store)
    result = tool_calls.statistic(store, u, settings)
    want = sum(1 for v, _ in _python_ranking(store, 2020, "营业收入") if v > Decimal(10) ** 9)
    assert result.values[0]["value"] == want


def test_compare_years_on_real_question(community):
    store, settings, _ = community
    item = next(it for it in bench_sample() if it["type"] == "2-2")
    out = ask_structured(item["question"], store=store, settings=settings)
    assert out["intent"] == "统计题"
    verdict = item["prompt"]["prom_answer"]
    assert out["answer"].startswith(verdict + "，")


@pytest.mark.parametrize("question", [
    "四方科技2020年的营业收入是多少'; DROP TABLE companies; --",
    "2020年营业收入最高的公司\"; DELETE FROM company_year; SELECT \"",
    "请查询 companies 表：SELECT * FROM sqlite_master",
    "生物股份 2020 年 1=1 OR 营业收入 是多少",
])
def test_injection_attempts_are_harmless(community, question):
    store, settings, _ = community
    before = (len(store.companies()), store.readonly_query("SELECT COUNT(*) FROM company_year", {})[1])
    out = ask_structured(question, store=store, settings=settings)
    assert isinstance(out["answer"], str) and out["answer"]
    after = (len(store.companies()), store.readonly_query("SELECT COUNT(*) FROM company_year", {})[1])
    assert before == after
    assert out["sql"] is None or "DROP" not in out["sql"].upper() and "DELETE" not in out["sql"].upper()


def test_run_validates_before_executing(community):
    store, settings, _ = community
    with pytest.raises(UnsafeSQL):
        run(store, "SELECT * FROM companies; DROP TABLE companies", {}, settings)


def test_filters_by_province(tmp_path):
    from knowledge.configuration import Settings
    from knowledge.store import Company, Store, Value

    settings = Settings(home=tmp_path)
    store = Store(settings.db_url)
    rows = [("600001", "江苏甲", "江苏", "5"), ("600002", "江苏乙", "江苏", "7"), ("600003", "浙江丙", "浙江", "9")]
    with store.transaction() as conn:
        for code, name, prov, revenue in rows:
            store.upsert_company(Company(code, name + "股份有限公司", name), conn)
            store.record_values(conn, code, 2020, [Value("省份", prov), Value("营业收入", Decimal(revenue))],
                                source="import")
    u = understand("2020年江苏省营业收入最高的公司是哪家？", store)
    assert u.statistic["filters"] == {"省份": "江苏"}
    result = tool_calls.statistic(store, u, settings)
    assert [v["code"] for v in result.values] == ["600002"]


def test_the_lookup_tool_takes_plain_arguments(community):
    store, settings, _ = community
    u = understand("2020年营业收入最高的公司是哪家？", store)
    top = tool_calls.statistic(store, u, settings).values[0]
    plain = sql.lookup(store, [top["code"]], [2020], ["营业收入"])
    assert plain.kind == "lookup" and plain.values[0]["value"] == top["value"]
    ranked = sql.rank(store, "营业收入", 2020, order="desc", n=1)
    assert ranked.values[0]["code"] == top["code"]
    bigger = sql.count(store, "营业收入", 2020, op=">=", threshold=top["value"])
    assert bigger.values[0]["value"] == 1
    assert sql.lookup(store, [], [2020], ["营业收入"]).kind == "refusal"


def test_generated_sql_is_validated(community):
    store, settings, _ = community
    result = sql.run_generated(store, sql.strip_model_sql("DELETE FROM companies"), settings=settings)
    assert result.kind == "refusal" and "校验" in result.missing[0]
    reply = '```sql\nAVG(y."营业收入") AS avg FROM company_year AS y WHERE y.year = 2020;\n```'
    result = sql.run_generated(store, sql.strip_model_sql(reply), settings=settings)
    assert result.kind == "statistic" and result.sql.endswith("LIMIT 200") and result.values[0]["avg"]


def test_the_statistic_node_asks_the_nl2sql_adapter(community, monkeypatch):
    import asyncio

    from graph import llm, nodes
    from knowledge.configuration import Settings

    store, settings, _ = community
    llm_settings = Settings(home=settings.home, llm={"base_url": "http://127.0.0.1:9/v1"})
    u = understand("2020年营业收入的平均值是多少？", store)
    u.statistic = {"kind": "other"}
    asked = []

    async def reply(settings, role, messages, **kw):
        asked.append(role)
        return 'AVG(y."营业收入") AS avg FROM company_year AS y WHERE y.year = 2020'

    monkeypatch.setattr(llm, "acomplete", reply)
    state = {"understanding": u.to_context()}
    config = {"configurable": {"store": store, "settings": llm_settings, "tools_inline": True}}
    result = asyncio.run(nodes.statistic(state, config))["result"]
    assert asked == ["nl2sql"] and result["kind"] == "statistic" and result["values"][0]["avg"]
    # Embedded mode: no model, a plain refusal.
    config["configurable"]["settings"] = settings
    assert asyncio.run(nodes.statistic(state, config))["result"]["kind"] == "refusal"


def test_a_cte_name_is_a_real_table_outside_its_query(community):
    """Resolved by scope: ``reports`` is the CTE inside the derived table and the real table beside it."""
    store, settings, _ = community
    inner = "(WITH reports AS (SELECT year FROM company_year) SELECT year FROM reports)"
    assert validate(f"SELECT year FROM {inner} AS d", store).endswith("LIMIT 200")
    result = sql.run_generated(store, f"SELECT * FROM {inner}, reports LIMIT 5", settings=settings)
    assert result.kind == "refusal" and "reports" in result.missing[0]
    # A CTE is visible to the CTEs after it and its query, not to the ones before it.
    assert validate("WITH a AS (SELECT year FROM company_year), b AS (SELECT year FROM a) SELECT year FROM b", store)
    with pytest.raises(UnsafeSQL):
        validate("WITH a AS (SELECT year FROM b), b AS (SELECT year FROM company_year) SELECT year FROM a", store)


def test_limit_is_enforced_on_the_whole_union(community):
    store, settings, _ = community
    union = "SELECT year FROM company_year UNION ALL SELECT year FROM company_year"
    assert validate(union, store) == union + " LIMIT 200"
    _safe, _cols, rows = run(store, union + " LIMIT 100000", {}, settings)
    assert len(rows) == 200


def test_the_sql_the_nl2sql_adapter_is_trained_to_write_validates(community):
    """Every pattern of the adapter's training data (finetune/data/templates.toml), filled in."""
    from finetune.data.resources import templates

    store, _settings, _ = community
    slots = {"field": "营业收入", "columns": '"营业收入", "净利润"', "code": "603339", "y": 2020, "y2": 2021,
             "order": "DESC", "n": 3, "lo": 1, "hi": 2, "cmp": ">", "threshold": 1e9, "agg": "AVG", "group_col": "省份"}
    clauses = [{"filter_clause": "", "cmp_clause": ""},
               {"filter_clause": " AND t.\"省份\" = '江苏'", "cmp_clause": " AND t.\"营业收入\" > 1000000000.0"}]
    patterns = templates()["nl2sql"]["patterns"]
    assert patterns
    for pattern in patterns:
        for clause in clauses:
            text = pattern["sql"].format(**slots, **clause)
            assert validate(text, store), text
