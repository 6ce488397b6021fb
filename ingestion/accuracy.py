"""Field accuracy of the store against a hand-made truth list (tests/data/truth/<code>_<year>.json)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from knowledge.fields import field_dictionary
from knowledge.store import Store


@dataclass
class Accuracy:
    name: str
    total: int = 0
    correct: int = 0
    by_statement: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    misses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def lines(self) -> list[str]:
        out = [f"{self.name}: {self.correct}/{self.total} = {self.rate:.2%}"]
        for st, (ok, n) in sorted(self.by_statement.items()):
            out.append(f"  {st:10} {ok}/{n} = {ok / n:.2%}")
        out += [f"  MISS {m}" for m in self.misses]
        return out


def same(expected: str, got) -> bool:
    if got is None:
        return False
    try:
        return Decimal(expected) == Decimal(str(got))
    except InvalidOperation:
        return str(got).strip() == expected.strip()


def load_truth(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def score(store: Store, truth: dict, name: str | None = None) -> Accuracy:
    fields = field_dictionary()
    code = truth["company_code"]
    acc = Accuracy(name or f"{code}_{truth['report_year']}")
    rows: dict[int, dict] = {}
    for item in truth["values"]:
        year = int(item["year"])
        if year not in rows:
            rows[year] = store.row(code, year) or {}
        got = rows[year].get(item["field"])
        ok = same(item["value"], got)
        st = fields[item["field"]].statement if item["field"] in fields else "unknown"
        acc.total += 1
        acc.correct += ok
        acc.by_statement[st][0] += ok
        acc.by_statement[st][1] += 1
        if not ok:
            acc.misses.append(f"{item['field']} {year} p{item.get('page')}: expected {item['value']!r}, got {got!r}")
    return acc
