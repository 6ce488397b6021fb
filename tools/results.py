"""What every tool node returns, so the answer node renders one shape."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any


@dataclass
class ToolResult:
    kind: str  # lookup | formula | statistic | passages | glossary | refusal
    values: list[dict[str, Any]] = field(default_factory=list)
    # each value: {company, code, year, field, value, unit, page, source}
    sql: str | None = None
    formula: dict[str, Any] | None = None  # {name, expression, inputs: {name: value}, result, decimals}
    citations: list[dict[str, Any]] = field(default_factory=list)  # [{page, text, file?}]
    passages: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what could not be found, in words
    text: str | None = None  # a ready answer (extractive / glossary) when the tool produced one

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (exact decimals become strings) for state, checkpoints and APIs."""
        # jsonable copies as it converts; asdict's deep copy first would double the work.
        return jsonable({name: getattr(self, name) for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(ToolResult))


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
