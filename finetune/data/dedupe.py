"""Deduplication, exclusion of the real challenge questions, and the train/dev split."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from finetune.data.paraphrase import normalize

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
# The challenge question files, where a checkout has them (inside it or beside it).
BENCH_CANDIDATES = (REPO / "shared" / "bench", REPO.parent / "shared" / "bench")


def default_bench_dir() -> Path | None:
    return next((p for p in BENCH_CANDIDATES if p.is_dir()), None)


def bench_questions(bench_dir: Path | None) -> set[str]:
    """Normalised questions of every ``*.jsonl`` in ``bench_dir`` (each line has a "question")."""
    found: set[str] = set()
    if bench_dir is None:
        return found
    for path in sorted(Path(bench_dir).glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    question = json.loads(line).get("question")
                    if question:
                        found.add(normalize(question))
    return found


def dedupe(items: Iterable[T], text: Callable[[T], str], banned: set[str]) -> tuple[list[T], int, int]:
    """Keep the first of each normalised text and drop banned ones.
    Returns (kept, duplicates dropped, banned dropped)."""
    seen: set[str] = set()
    kept: list[T] = []
    dup = ban = 0
    for item in items:
        key = normalize(text(item))
        if key in banned:
            ban += 1
        elif key in seen:
            dup += 1
        else:
            seen.add(key)
            kept.append(item)
    return kept, dup, ban


def is_dev(group: str, dev_fraction: float, seed: int) -> bool:
    """Stable split by group (a company's questions all land on one side), independent of order."""
    digest = hashlib.sha1(f"{seed}:{group}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < dev_fraction
