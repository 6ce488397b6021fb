"""graph.verify: a generated sentence may state only numbers the tools produced."""

from decimal import Decimal

from graph.verify import supported_numbers, unsupported_numbers

RESULT = {"values": [{"field": "货币资金", "value": "905402299.44", "page": 59}], "formula": None}


def test_numbers_from_the_tools_pass_with_or_without_separators():
    assert unsupported_numbers("货币资金为905,402,299.44元。", RESULT) == set()
    assert unsupported_numbers("货币资金为905402299.44元（第59页）。", RESULT) == set()


def test_a_number_the_tools_did_not_produce_is_named():
    assert unsupported_numbers("货币资金为905402299.45元。", RESULT) == {Decimal("905402299.45")}


def test_small_ordinals_are_not_figures_but_larger_unsourced_integers_are():
    assert unsupported_numbers("排名第3位，共2家。", RESULT) == set()
    assert unsupported_numbers("共有12家公司。", RESULT) == {Decimal("12")}


def test_numbers_parsed_once_give_the_same_verdicts():
    supported = supported_numbers(RESULT, "2019年的货币资金是多少？")
    for sentence in ("2019年货币资金905402299.44元。", "约为9.05亿元。", "共有12家。"):
        assert unsupported_numbers(sentence, supported=supported) == unsupported_numbers(
            sentence, RESULT, "2019年的货币资金是多少？")
