"""Dense embeddings with FlagEmbedding BGE models from ``settings.retrieval.embedding_model_dir``.

bge-large-zh-v1.5 (``FlagModel``, with its retrieval instruction on queries) or bge-m3
(``BGEM3FlagModel``, dense vectors, no instruction); a directory holding bge-m3's ``colbert_linear.pt``
or ``sparse_linear.pt`` heads is taken for bge-m3.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.retrieval.models import load_once, use_fp16

# bge-*-zh-v1.5's documented instruction for short queries against passages.
ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
PASSAGE_BATCH = 32
MAX_LENGTH = 512


@dataclass
class Embedder:
    model: Any
    m3: bool
    name: str

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self._vectors(self.model.encode_queries(texts, batch_size=PASSAGE_BATCH, max_length=MAX_LENGTH))

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return self._vectors(self.model.encode_corpus(texts, batch_size=PASSAGE_BATCH, max_length=MAX_LENGTH))

    def _vectors(self, out) -> list[list[float]]:
        dense = out["dense_vecs"] if self.m3 else out
        return [list(map(float, v)) for v in dense]


def is_m3(directory: str) -> bool:
    d = Path(directory)
    return (d / "colbert_linear.pt").exists() or (d / "sparse_linear.pt").exists()


def _load(directory: str) -> Embedder:
    if is_m3(directory):
        from FlagEmbedding import BGEM3FlagModel

        model = BGEM3FlagModel(directory, use_fp16=use_fp16(), normalize_embeddings=True)
        return Embedder(model, True, Path(directory).name)
    from FlagEmbedding import FlagModel

    model = FlagModel(
        directory,
        use_fp16=use_fp16(),
        normalize_embeddings=True,
        query_instruction_for_retrieval=ZH_QUERY_INSTRUCTION,
    )
    return Embedder(model, False, Path(directory).name)


def embedder(settings) -> Embedder | None:
    """The configured embedder, or None in the BM25-only configuration."""
    path = settings.retrieval.embedding_model_dir
    return load_once("embedder", path, _load) if path else None
