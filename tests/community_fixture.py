"""A store with the community-table sample imported (tests/data/community-sample), shared per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.configuration import Settings
from knowledge.store import Store

DATA = Path(__file__).resolve().parent / "data"
SAMPLE_DIR = DATA / "community-sample"
BENCH_SAMPLE = DATA / "bench-sample.jsonl"


def bench_sample() -> list[dict]:
    return [json.loads(line) for line in BENCH_SAMPLE.open(encoding="utf-8")]


@pytest.fixture(scope="session")
def community(tmp_path_factory):
    """(store, settings, import report) with the sample workbooks imported."""
    from ingestion.import_table import import_tables

    home = tmp_path_factory.mktemp("community-home")
    settings = Settings(home=home)
    store = Store(settings.db_url)
    report = import_tables(store, sorted(SAMPLE_DIR.glob("*.xlsx")))
    return store, settings, report
