"""The business section's domain data (knowledge/business.toml): the page-text patterns ingestion reads the
主营业务, 前五名 and segment tables with, and the words segment questions are understood by."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from knowledge.fields import KNOWLEDGE_DIR


@lru_cache(maxsize=1)
def business_rules() -> dict[str, Any]:
    return tomllib.loads((KNOWLEDGE_DIR / "business.toml").read_text(encoding="utf-8"))
