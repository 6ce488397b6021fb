"""The canonical field dictionary (``knowledge/fields.toml``) and label normalisation.

Every extracted row label, every imported column and every field named in a question goes through
:func:`normalize_label` and :meth:`FieldDictionary.resolve`, so one table of synonyms serves
ingestion, import, entity linking and NL2SQL alike.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

KNOWLEDGE_DIR = Path(__file__).parent  # the data files sit beside the modules that load them

STATEMENTS = ("basic", "staff", "rd", "balance", "income", "cash_flow", "other")
UNITS = ("money", "count", "percent", "ratio", "text")

# Leading enumerations and prefixes that decorate statement row labels:
# 一、 (一) 1. 1、 ① 其中： 减： 加：
_PREFIX = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十\d]+\)|\d+[、.](?!\d)|[①-⑳]"
    r"|其中[:：]?|减[:：]|加[:：]|:)+"
)
# Parentheticals that only explain signs or units: (损失以“-”号填列) (元/股) (如有)
_NOISE_PAREN = re.compile(r"\((?:[^()]*填列[^()]*|元/股|元|人|%|如有|或股本|或股东权益)\)")
# Note references at the end of a label: 七、1 / 五(一)2 / 附注六、3
_NOTE_MARK = re.compile(r"(?:附注)?[一二三四五六七八九十]+[、.(（]?[\d()（）一二三四五六七八九十]*$")


def normalize_label(label: str) -> str:
    """Canonical comparison form of a row label or field mention.

    NFKC folds full-width letters, digits and brackets; whitespace and line breaks inside a label
    (reports wrap long labels) vanish; prefixes such as ``其中：`` and note marks such as ``七、1``
    are dropped; sign-explaining parentheticals are dropped.
    """
    text = unicodedata.normalize("NFKC", label or "")
    text = re.sub(r"\s+", "", text)
    text = text.replace("“", "\"").replace("”", "\"").replace("－", "-").replace("—", "-")
    text = _PREFIX.sub("", text)
    text = _NOISE_PAREN.sub("", text)
    if len(text) > 4:
        text = _NOTE_MARK.sub("", text)
    return text.strip(":：")


@dataclass(frozen=True)
class FieldDef:
    name: str
    statement: str
    unit: str
    synonyms: tuple[str, ...] = ()
    desc: str = ""
    sum_of: tuple[str, ...] = ()
    cost: bool = False  # an expense or outflow: an amount, stored positive (fields.toml header)

    @property
    def surface_forms(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


@dataclass
class FieldDictionary:
    fields: dict[str, FieldDef]
    _by_form: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Canonical names win over synonyms when a synonym of one field is the name of another.
        for f in self.fields.values():
            for form in f.synonyms:
                self._by_form.setdefault(normalize_label(form), f.name)
        for f in self.fields.values():
            self._by_form[normalize_label(f.name)] = f.name

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def __getitem__(self, name: str) -> FieldDef:
        return self.fields[name]

    def __iter__(self):
        return iter(self.fields.values())

    def __len__(self) -> int:
        return len(self.fields)

    def resolve(self, label: str) -> FieldDef | None:
        """The field a raw label or mention names, or None."""
        name = self._by_form.get(normalize_label(label))
        return self.fields[name] if name else None

    def of_statement(self, *statements: str) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.statement in statements]

    def missing_totals(self, values: dict[str, object]) -> dict[str, tuple[object, tuple[str, ...]]]:
        """Totals absent from ``values`` whose parts (``sum_of``) are all present: name → (sum, parts)."""
        return {
            f.name: (sum(values[p] for p in f.sum_of), f.sum_of)
            for f in self.fields.values()
            if f.sum_of and f.name not in values and all(values.get(p) is not None for p in f.sum_of)
        }

    def surface_forms(self) -> dict[str, str]:
        """Every normalised surface form → canonical name (for entity linking)."""
        return dict(self._by_form)


def load_field_dictionary(path: Path | None = None) -> FieldDictionary:
    data = tomllib.loads((path or KNOWLEDGE_DIR / "fields.toml").read_text(encoding="utf-8"))
    fields: dict[str, FieldDef] = {}
    for section in data.values():
        statement = section["statement"]
        for entry in section["fields"]:
            name = entry["name"]
            if name in fields:
                raise ValueError(f"field {name!r} is defined twice in the field dictionary")
            unit = entry.get("unit", section["unit"])
            if statement not in STATEMENTS or unit not in UNITS:
                raise ValueError(f"field {name!r}: bad statement {statement!r} or unit {unit!r}")
            fields[name] = FieldDef(
                name=name,
                statement=statement,
                unit=unit,
                synonyms=tuple(entry.get("synonyms", ())),
                desc=entry.get("desc", ""),
                sum_of=tuple(entry.get("sum_of", ())),
                cost=bool(entry.get("cost", False)),
            )
    if path is None:  # the shipped dictionary also knows how questions name fields (colloquial, English)
        for name, forms in ((n, fs) for table in question_forms()["fields"].values() for n, fs in table.items()):
            if name not in fields:
                raise ValueError(f"question_forms.toml names {name!r}, which is not in the field dictionary")
            f = fields[name]
            fields[name] = dataclasses.replace(f, synonyms=f.synonyms + tuple(forms))
    return FieldDictionary(fields)


@lru_cache(maxsize=1)
def question_only_forms() -> frozenset[str]:
    """The normalised forms that only questions use (「赚了多少」, "net profit"): answers name the field
    itself, not these words."""
    return frozenset(normalize_label(form).upper() for table in question_forms()["fields"].values()
                     for forms in table.values() for form in forms)


@lru_cache(maxsize=1)
def question_forms() -> dict:
    """knowledge/question_forms.toml: colloquial and English question forms of fields and formulas, and
    the English words of company names' generic tails."""
    return tomllib.loads((KNOWLEDGE_DIR / "question_forms.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def field_dictionary() -> FieldDictionary:
    return load_field_dictionary()
