"""Dense embeddings with BGE models from ``settings.retrieval.embedding_model_dir``.

BGE's recipe, on plain transformers: the [CLS] token's last hidden state, L2-normalised. bge-*-zh-v1.5
prefixes short queries with its retrieval instruction (passages go in as they are); bge-m3's dense
vectors are the same [CLS] pooling, with no instruction. A directory holding bge-m3's
``colbert_linear.pt`` or ``sparse_linear.pt`` heads is taken for bge-m3; the heads themselves (ColBERT
multi-vectors, sparse lexical weights) are not used — only dense vectors go into Chroma.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.retrieval.models import LocalModel, load_local, load_once

# bge-*-zh-v1.5's documented instruction for short queries against passages.
ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："
BATCH = 32
MAX_LENGTH = 512


@dataclass
class Embedder:
    encoder: LocalModel
    m3: bool
    name: str

    @property
    def query_instruction(self) -> str:
        return "" if self.m3 else ZH_QUERY_INSTRUCTION

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self._embed([self.query_instruction + t for t in texts])

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            out = self.encoder.forward(texts[start:start + BATCH], max_length=MAX_LENGTH)
            vectors += cls_normalised(out.last_hidden_state).tolist()
        return vectors


def cls_normalised(hidden):
    """Each sequence's first ([CLS]) hidden state with unit L2 norm, in fp32 (an fp16 norm drifts)."""
    import torch

    return torch.nn.functional.normalize(hidden[:, 0].float(), dim=-1)


def is_m3(directory: str) -> bool:
    d = Path(directory)
    return (d / "colbert_linear.pt").exists() or (d / "sparse_linear.pt").exists()


def _load(directory: str) -> Embedder:
    encoder = load_local(directory, "AutoModel", "dense retrieval (retrieval.embedding_model_dir)")
    return Embedder(encoder, is_m3(directory), Path(directory).name)


def embedder(settings) -> Embedder | None:
    """The configured embedder, or None in the BM25-only configuration."""
    path = settings.retrieval.embedding_model_dir
    return load_once("embedder", path, _load) if path else None
