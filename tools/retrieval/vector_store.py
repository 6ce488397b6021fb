"""Chunk vectors in Chroma: the embedded ``PersistentClient`` at ``settings.chroma_path``, or an
``HttpClient`` when ``settings.retrieval.chroma_url`` is set.

We always hand Chroma our own embeddings and create collections with ``embedding_function=None``:
Chroma's default embedding function would download a model. One collection per embedding model (its
directory name), since vectors of different models cannot be compared; cosine space, as BGE vectors
are normalised. Metadata carries the scope (company_code, year) so a query filters before it ranks.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlparse

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def client(settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    url = settings.retrieval.chroma_url
    key = url or str(settings.chroma_path)
    with _LOCK:
        if key not in _CLIENTS:
            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            if url:
                u = urlparse(url)
                _CLIENTS[key] = chromadb.HttpClient(
                    host=u.hostname or "localhost",
                    port=u.port or (443 if u.scheme == "https" else 8000),
                    ssl=u.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                settings.chroma_path.mkdir(parents=True, exist_ok=True)
                _CLIENTS[key] = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
        return _CLIENTS[key]


def collection_name(model_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-._") or "model"
    return f"chunks-{slug}"[:60]


def collection(settings, model_name: str):
    return client(settings).get_or_create_collection(
        collection_name(model_name), embedding_function=None, metadata={"hnsw:space": "cosine"}
    )


def scope_where(company_code: str | None, year: int | None) -> dict | None:
    terms = [{"company_code": company_code}] if company_code else []
    terms += [{"year": int(year)}] if year else []
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else {"$and": terms}


def replace_report(col, report_id: int, rows: list[dict], vectors: list[list[float]], batch: int = 1000) -> None:
    """The report's vectors, replacing any it had (re-ingestion keeps no stale chunk)."""
    col.delete(where={"report_id": int(report_id)})
    for start in range(0, len(rows), batch):
        part = rows[start:start + batch]
        col.add(
            ids=[str(r["id"]) for r in part],
            embeddings=vectors[start:start + batch],
            metadatas=[
                {"report_id": int(report_id), "company_code": r["company_code"], "year": int(r["year"]), "page": int(r["page"])}
                for r in part
            ],
        )


def nearest(col, vector: list[float], *, company_code: str | None, year: int | None, n: int) -> list[int]:
    """Chunk ids of the scope nearest to ``vector``, nearest first."""
    if n <= 0:
        return []
    out = col.query(query_embeddings=[vector], n_results=n, where=scope_where(company_code, year), include=["distances"])
    return [int(i) for i in (out.get("ids") or [[]])[0]]
