import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from community_fixture import bench_sample, community  # noqa: F401

from agent.structured import ask_structured
from knowledge.fields import field_dictionary
from knowledge.formulas import (
    FormulaError,
    evaluate,
    formula_table,
    get_formula,
    round_output,
)
from understanding.question import understand

BENCH_FORMULAS = json.loads((Path(__file__).parent / "data" / "bench-formulas.json").read_text(encoding="utf-8"))


def test_every_challenge_formula_is_defined_as_the_challenge_wrote_it():
    assert len(BENCH_FORMULAS) == 34
    for name, spec in BENCH_FORMULAS.items():
        f = get_formula(name)
        assert f is not None, name
        assert f.display.replace(" ", "") == spec["formula"].replace(" ", ""), name


@pytest.mark.parametrize("name", sorted(BENCH_FORMULAS))
def test_challenge_example_reproduces_the_reference_result(name):
    """The example's own inputs, through our expression and output kind, give its prom_answer."""
    spec = BENCH_FORMULAS[name]
    f = get_formula(name)
    example = spec["example"]
    env = {i.label: Decimal(example[i.label].removesuffix("元")) for i in f.inputs}
    _number, display = round_output(f, evaluate(f.expression, env), 2)
    assert display == example["prom_answer"]


def test_common_analyst_formulas_exist():
    for name in ("净资产收益率", "总资产收益率", "每股净资产", "每股经营现金流量", "存货周转率", "产权比率"):
        assert get_formula(name) is not None
    assert get_formula("ROE").name == "净资产收益率"


def test_every_input_is_a_known_field():
    fields = field_dictionary()
    for f in formula_table().values():
        for i in f.inputs:
            assert i.field in fields and i.offset in (0, -1)


def test_evaluator_is_exact_and_safe():
    assert evaluate("(a-b)/b", {"a": Decimal("0.3"), "b": Decimal("0.1")}) == Decimal(2)
    assert evaluate("a+b", {"a": Decimal("0.1"), "b": Decimal("0.2")}) == Decimal("0.3")
    assert evaluate("-a*2", {"a": Decimal("1.5")}) == Decimal("-3.0")
    with pytest.raises(ZeroDivisionError):
        evaluate("a/b", {"a": Decimal(1), "b": Decimal(0)})
    with pytest.raises(KeyError):
        evaluate("a/c", {"a": Decimal(1)})
    for bad in ("__import__('os').system('x')", "a/(b", "a b", "a//b", "a**2"):
        with pytest.raises((FormulaError, KeyError)):
            evaluate(bad, {"a": Decimal(1), "b": Decimal(2)})


def test_rounding_half_up_and_formats():
    pct = get_formula("毛利率")
    assert round_output(pct, Decimal("0.123450"), 2)[1] == "12.35%"
    assert round_output(pct, Decimal("0.123449"), 2)[1] == "12.34%"
    ratio = get_formula("流动比率")
    assert round_output(ratio, Decimal("3"), 2)[1] == "3.00"
    assert round_output(ratio, Decimal("1.23456"), 4)[1] == "1.2346"
    assert round_output(get_formula("每股净资产"), Decimal("4.84056"), None)[1] == "4.8406元"


def test_rates_and_ratios_keep_three_significant_digits_unless_decimals_are_asked():
    growth = get_formula("营业成本增长率")
    # (903,236,584.52 - 901,488,823.98) / 901,488,823.98 = 0.1939 %: 0.19% is too coarse to check.
    assert round_output(growth, Decimal("0.001938747"), None)[1] == "0.194%"
    assert round_output(growth, Decimal("-0.00980384"), None)[1] == "-0.980%"
    assert round_output(growth, Decimal("-0.180700"), None)[1] == "-18.07%"  # two decimals already give four digits
    assert round_output(growth, Decimal("0.001938747"), 2)[1] == "0.19%"  # 保留两位小数 wins
    assert round_output(growth, Decimal("0"), None)[1] == "0.00%"
    assert round_output(get_formula("流动比率"), Decimal("0.0123456"), None)[1] == "0.0123"
    assert round_output(get_formula("每股净资产"), Decimal("0.00012345"), None)[1] == "0.0001元"  # money keeps its own


def test_effective_tax_rate_and_main_business_margin():
    tax = get_formula("实际所得税税率")
    assert get_formula("实际税率") is tax and {i.field for i in tax.inputs} == {"所得税费用", "利润总额"}
    env = {"所得税费用": Decimal("10230"), "利润总额": Decimal("54738")}  # 平安银行 2024, p.29 prints 18.69%
    assert round_output(tax, evaluate(tax.expression, env), None)[1] == "18.69%"
    main = get_formula("主营业务毛利率")
    assert main.printed == "主营业务毛利率" and {i.field for i in main.inputs} == {"主营业务收入", "主营业务成本"}


def test_real_formula_questions_give_the_reference_value(community):
    store, settings, _ = community
    items = [it for it in bench_sample() if it["type"] == "2-1" and "prom_answer" in it["prompt"]]
    assert len(items) >= 20
    for it in items:
        out = ask_structured(it["question"], store=store, settings=settings)
        assert it["prompt"]["prom_answer"] in out["answer"], (it["question"], out["answer"])
        assert out["formula"]["name"] in it["prompt"]["公式"]
        for label in it["prompt"]["key_word"].split("、"):
            assert label in out["answer"]  # every input is shown


def test_growth_rate_reads_the_prior_year_row(community):
    store, settings, _ = community
    code = next(c.code for c in store.companies() if {2020, 2021} <= set(store.years(c.code))
                and all((store.row(c.code, y) or {}).get("营业收入") for y in (2020, 2021)))
    now, prior = store.row(code, 2021)["营业收入"], store.row(code, 2020)["营业收入"]
    u = understand(f"{code}在2021年的营业收入增长率是多少？", store)
    out = ask_structured(u.question, store=store, settings=settings)
    want = ((now - prior) / prior * 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert f"{want}%" in out["answer"]


def test_missing_input_is_named(community):
    store, settings, _ = community
    # The community table has no 货币资金 column: 现金比率 cannot be computed and says why.
    code = store.companies()[0].code
    out = ask_structured(f"{code}在2020年的现金比率是多少？", store=store, settings=settings)
    assert out["answer"].startswith("未查询到") and "货币资金" in out["answer"]
    # 2019 has no prior year in the table: the prior-year input is named with its year.
    out = ask_structured(f"{code}在2019年的营业收入增长率是多少？", store=store, settings=settings)
    assert re.search(r"未查询到2018年\S{0,20}的营业收入", out["answer"])


def test_zero_divisor_is_named(tmp_path):
    from knowledge.configuration import Settings
    from knowledge.store import Company, Store, Value

    settings = Settings(home=tmp_path)
    store = Store(settings.db_url)
    with store.transaction() as conn:
        store.upsert_company(Company("600001", "甲股份有限公司", "甲公司"), conn)
        store.record_values(conn, "600001", 2020, [Value("投资收益", Decimal("0"))], source="import")
        store.record_values(conn, "600001", 2021, [Value("投资收益", Decimal("5"))], source="import")
    out = ask_structured("甲公司2021年的投资收益增长率是多少？", store=store, settings=settings)
    assert out["answer"].startswith("未查询到") and "分母为0" in out["answer"]
