"""The field dictionary: well-formed, unambiguous, and usable as SQL column names everywhere."""

from __future__ import annotations

from knowledge.fields import field_dictionary, normalize_label


def test_names_fit_postgres_identifiers():
    too_long = [f.name for f in field_dictionary() if len(f.name.encode("utf-8")) > 63]
    assert not too_long


def test_no_surface_form_names_two_fields():
    owner: dict[str, str] = {}
    clashes = []
    for f in field_dictionary():
        for form in {normalize_label(x) for x in f.surface_forms}:
            if form in owner and owner[form] != f.name:
                clashes.append((form, owner[form], f.name))
            owner.setdefault(form, f.name)
    assert not clashes


def test_report_labels_resolve_through_normalisation():
    fd = field_dictionary()
    cases = {
        "货币资金 七、1": "货币资金",
        "其中：应收利息": "应收利息",
        "实收资本（或股本）": "股本",
        "四、利润总额（亏损总额以“－”号填列）": "利润总额",
        "归属于母公司所有者权益（或股东权益）合计": "归属于母公司所有者权益合计",
        "支付给职工以及为职工支付的现金": "支付给职工及为职工支付的现金",
        "（一）基本每股收益(元/股)": "基本每股收益",
        "营业税金及附加": "税金及附加",
        "处置固定资产、无形资产和其他长期资产收回的现金净额": "处置长期资产收回的现金净额",
    }
    for label, name in cases.items():
        resolved = fd.resolve(label)
        assert resolved is not None and resolved.name == name, label


def test_look_alike_fields_stay_distinct():
    fd = field_dictionary()
    assert fd.resolve("营业收入").name != fd.resolve("营业总收入").name
    assert fd.resolve("营业成本").name != fd.resolve("营业总成本").name
    assert fd.resolve("归母净利润").name == "归属于母公司所有者的净利润"


def test_missing_totals_are_the_sum_of_their_parts():
    from decimal import Decimal

    fd = field_dictionary()
    parts = {"流动负债合计": Decimal("268958247.06"), "非流动负债合计": Decimal("18925843.79")}
    totals = fd.missing_totals(parts)
    assert totals["负债合计"][0] == Decimal("287884090.85")
    assert "资产总计" not in totals  # its parts are absent
    assert fd.missing_totals({**parts, "负债合计": Decimal("1")}) == {}  # a reported total is kept
