"""A small synthetic wide table: the database every NL2SQL target is executed on.

It is written through the real ``knowledge.store.Store`` (``record_values(..., source="import")``), so it has
exactly the production schema. Values are random but plausible (log-normal money, signed where a field
can be a loss, consistent province/city/industry per company); none is a real company's figure.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path

from finetune.data.resources import synthetic
from knowledge.fields import FieldDef, FieldDictionary, field_dictionary
from knowledge.store import Company, Store, Value


def build_synthetic_store(
    path: Path,
    companies: list[Company],
    *,
    seed: int = 0,
    n_companies: int | None = None,
    years: list[int] | None = None,
    fields: FieldDictionary | None = None,
) -> Store:
    """Create (afresh) the SQLite store at ``path`` with ``n_companies`` × ``years`` rows."""
    cfg = synthetic()
    fields = fields or field_dictionary()
    rng = random.Random(seed)
    years = years or cfg["years"]
    n = min(n_companies or cfg["companies"], len(companies))
    chosen = sorted(rng.sample(companies, n), key=lambda c: c.code)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = Store(f"sqlite:///{path}", fields)
    with store.transaction() as conn:
        for company in chosen:
            store.upsert_company(company, conn)
            profile = _company_profile(company, rng, cfg)
            for year in years:
                values = [Value(f.name, v) for f in fields if (v := _value(f, profile, rng, cfg)) is not None]
                store.record_values(conn, company.code, year, values, source="import")
    return store


def _company_profile(company: Company, rng: random.Random, cfg: dict) -> dict:
    """What stays the same across a company's years."""
    text = cfg["text"]
    province = rng.choice(sorted(text["places"]))
    city = rng.choice(text["places"][province])
    return {
        "公司名称": company.full_name,
        "公司简称": company.short_name or company.full_name,
        "证券代码": company.code,
        "省份": province,
        "城市": city,
        "行业": rng.choice(text["industries"]),
        "股票上市交易所": text["exchanges"][0] if company.code.startswith("6") else text["exchanges"][1],
        "注册地址": f"{province}{city}{rng.choice(['高新区', '经济开发区', '工业园区'])}{rng.randint(1, 999)}号",
        "scale": math.exp(rng.gauss(0, 0.8)),  # a company is big or small in every field alike
    }


def _person(rng: random.Random, text: dict) -> str:
    return rng.choice(text["surnames"]) + rng.choice(text["given"])


def _value(f: FieldDef, profile: dict, rng: random.Random, cfg: dict):
    if f.unit == "text":
        if f.name in profile:
            return profile[f.name]
        text = cfg["text"]
        if f.name in ("法定代表人", "董事会秘书", "证券事务代表"):
            return _person(rng, text)
        if f.name == "会计师事务所":
            return rng.choice(text["auditors"])
        if f.name == "办公地址":
            return profile["注册地址"]
        return f"{profile['公司简称']}{f.name}"  # placeholder text: lookups only need a value
    if rng.random() < cfg["p_null"]:
        return None
    if f.unit == "count":
        c = cfg["count"]
        return max(0, int(c["median"] * profile["scale"] * math.exp(rng.gauss(0, c["sigma"]))))
    if f.unit in ("percent", "ratio"):
        p = cfg["percent"]
        return Decimal(f"{rng.uniform(p['low'], p['high']):.2f}")
    m = cfg["money"]
    amount = m["median"] * profile["scale"] * math.exp(rng.gauss(0, m["sigma"]))
    if any(mark in f.name for mark in m["signed_markers"]) and rng.random() < m["p_negative"]:
        amount = -amount
    return Decimal(f"{amount:.2f}")
