"""Dense indexing after commit: with an embedding model configured in the caller's settings, ingesting
a report puts its chunks into Chroma. A tiny BERT with random weights, built here with the shared
helper, stands in for bge (the vectors mean nothing; loading, embedding and storing are real). Needs the
``models`` extra: skipped without it, failed in CI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # benchmarks/ is not installed with the package; `pytest` alone does not add the root
    sys.path.insert(0, str(REPO))

from optional import require_module  # noqa: E402

require_module("torch", "models")
require_module("transformers", "models")
require_module("chromadb", "models")

from benchmarks.retrieval_tiny_models import build_tiny_models  # noqa: E402
from ingestion.batch import ingest_paths  # noqa: E402
from ingestion.pipeline import ingest_file  # noqa: E402
from knowledge.configuration import Settings, get_settings  # noqa: E402
from knowledge.store import Store  # noqa: E402
from tools.retrieval import dense, vector_store  # noqa: E402


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory):
    embedder_dir, _ = build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
    return embedder_dir


@pytest.fixture
def dense_settings(tmp_path, tiny_embedder, monkeypatch) -> Settings:
    from chromadb.utils import embedding_functions

    def refuse(*a, **k):  # Chroma's default embedding function would download a model
        raise AssertionError("Chroma's default embedding function was used")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", refuse)
    # Not the process-wide home (conftest points NIANBAO_HOME at tmp_path/"home", with no model): only
    # settings handed through ingestion reach the indexer.
    return Settings(home=tmp_path / "dense-home", retrieval={"embedding_model_dir": str(tiny_embedder)})


def _vectors(settings: Settings) -> int:
    return vector_store.collection(settings, dense.embedder(settings).name).count()


def test_ingest_file_indexes_the_sample_with_the_callers_settings(dense_settings, sample_pdf):
    dense_settings.ensure_home()
    store = Store(dense_settings.db_url)
    result = ingest_file(store, sample_pdf, settings=dense_settings)
    assert result.status == "ok", result.reason
    n = len(store.chunks("603339", 2019))
    assert n > 0 and _vectors(dense_settings) == n
    process_wide = get_settings()
    assert process_wide.home != dense_settings.home and not process_wide.retrieval.embedding_model_dir
    assert not process_wide.chroma_path.exists()


def test_ingest_paths_indexes_with_its_settings(dense_settings, sample_pdf, tmp_path):
    import pypdfium2 as pdfium

    src, new = pdfium.PdfDocument(str(sample_pdf)), pdfium.PdfDocument.new()
    new.import_pages(src, [0, 1, 2, 3, 4])
    mini = tmp_path / sample_pdf.name
    new.save(str(mini))
    [result] = ingest_paths(dense_settings, [mini], workers=1)
    assert result.status == "ok", result.reason
    n = len(Store(dense_settings.db_url).chunks("603339", 2019))
    assert n > 0 and _vectors(dense_settings) == n
