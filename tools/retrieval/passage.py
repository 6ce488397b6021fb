"""What retrieval returns: a passage of one report, with the page it is on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    report_id: int
    company_code: str
    year: int
    page: int
    section: str | None
    text: str
    score: float = 0.0
    # Which retrievers found it, with its rank in each: {"bm25": 1, "dense": 4, "rerank": 1}
    ranks: dict[str, int] = field(default_factory=dict, compare=False)

    def citation(self) -> dict:
        """The ``citations[]`` item of ``ask --json``."""
        return {"page": self.page, "text": self.text}

    def with_score(self, score: float, **ranks: int) -> Passage:
        return replace(self, score=score, ranks={**self.ranks, **ranks})

    @classmethod
    def from_row(cls, row: dict) -> Passage:
        return cls(
            chunk_id=int(row["id"]),
            report_id=int(row["report_id"]),
            company_code=row["company_code"],
            year=int(row["year"]),
            page=int(row["page"]),
            section=row.get("section"),
            text=row["text"],
        )
