"""The bundled sample report: ingested into an empty home so the first question has data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from knowledge.configuration import Settings
from knowledge.store import Store

SAMPLE_DIR = Path(__file__).parent / "samples"

_homes_with_reports: set[str] = set()


def sample_reports() -> list[Path]:
    return sorted(SAMPLE_DIR.glob("*.pdf"))


def has_sample_checked(store: Store) -> bool:
    """Whether this process already knows the home holds reports (then nothing is ingested)."""
    return store.url in _homes_with_reports


def ensure_sample(settings: Settings, store: Store, notify: Callable[[str], None] | None = None) -> None:
    """On an empty home, ingest the bundled sample report so the first question has data."""
    if store.url in _homes_with_reports:
        return
    if store.has_reports():
        _homes_with_reports.add(store.url)  # checked once per process: this runs on every question
        return
    # Deferred on purpose: the PDF pipeline (camelot, OpenCV) costs a second of imports, and a home
    # that holds reports never needs it.
    from ingestion.pipeline import ingest_file

    for pdf in sample_reports():
        if notify:
            notify(f"首次使用：正在导入示例年报 {pdf.name} …")
        result = ingest_file(store, pdf, settings=settings)
        if notify:
            notify(f"导入完成：{result.status}，{result.pages or 0} 页")
