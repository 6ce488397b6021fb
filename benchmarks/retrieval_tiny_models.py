"""Tiny BERT models with random weights, saved as local model directories, so the real loading and
inference code of ``tools.retrieval`` (transformers: dense embeddings, a bge-m3 directory, cross-encoder
rerank) runs offline in seconds. Their scores mean nothing; the plumbing is the point.

The vocabulary is written here: BERT special tokens, ASCII, digits and the CJK characters of the given
texts (default: the glossary, which covers the finance vocabulary). BertTokenizer splits CJK text into
single characters, so every character of those texts has an id.
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HIDDEN = 32


def vocabulary(texts: list[str] | None = None) -> list[str]:
    if texts is None:
        from knowledge.glossary import GLOSSARY_PATH

        texts = [GLOSSARY_PATH.read_text(encoding="utf-8")]
    chars = {c for t in texts for c in t if not c.isspace() and not c.isascii()}
    ascii_tokens = list(string.ascii_lowercase + string.digits + string.punctuation)
    return SPECIAL + ascii_tokens + sorted(chars - set(ascii_tokens))


def build_tiny_models(directory: Path, texts: list[str] | None = None, *, m3: bool = False, seed: int = 0) -> tuple[Path, Path]:
    """Save an embedding model and a reranker under ``directory``; returns their two directories.
    ``m3=True`` adds bge-m3's colbert and sparse head files, so the embedder directory is taken for bge-m3."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary(texts)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file), do_lower_case=True, tokenize_chinese_chars=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(seed)
    embedder_dir = directory / ("tiny-bge-m3" if m3 else "tiny-bge-zh")
    BertModel(config).save_pretrained(embedder_dir)
    tokenizer.save_pretrained(embedder_dir)
    if m3:
        torch.save(torch.nn.Linear(HIDDEN, HIDDEN).state_dict(), embedder_dir / "colbert_linear.pt")
        torch.save(torch.nn.Linear(HIDDEN, 1).state_dict(), embedder_dir / "sparse_linear.pt")
    reranker_dir = directory / "tiny-bge-reranker"
    rerank_config = BertConfig(**{**config.to_dict(), "id2label": {0: "LABEL_0"}, "label2id": {"LABEL_0": 0}})
    BertForSequenceClassification(rerank_config).save_pretrained(reranker_dir)
    tokenizer.save_pretrained(reranker_dir)
    return embedder_dir, reranker_dir
