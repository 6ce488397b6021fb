"""The data files of the builders, parsed once."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).parent
REGISTRY_SAMPLE = DATA_DIR / "registry_sample.jsonl"


@lru_cache(maxsize=None)
def templates() -> dict:
    return tomllib.loads((DATA_DIR / "templates.toml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def synthetic() -> dict:
    return tomllib.loads((DATA_DIR / "synthetic.toml").read_text(encoding="utf-8"))
