"""Loading local model directories, once per process, without ever reaching a model hub.

Plain transformers (``AutoTokenizer`` + an ``Auto*`` model class), not a wrapper library: the BGE
recipes are a few lines (CLS pooling for the embedders, the logit for the rerankers), and the wrapper
we used before (FlagEmbedding) stopped importing when transformers moved on. The heavy imports (torch,
transformers) happen here, inside functions, so the core and the embedded path never import them.
Loaded models are kept per directory: loading bge-large takes seconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.extras import require

_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def local_dir(path: str) -> str:
    """The directory as an absolute path; refuse anything that is not one (a hub name would download)."""
    p = Path(path).expanduser()
    if not p.is_dir() or not (p / "config.json").is_file():
        raise FileNotFoundError(f"not a local model directory (no config.json): {path}")
    return str(p.resolve())


def load_once(kind: str, path: str, factory: Callable[[str], Any]) -> Any:
    directory = local_dir(path)
    key = (kind, directory)
    with _LOCK:
        if key not in _LOADED:
            # Belt and braces: even a typo'd config cannot make transformers fetch from the hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            _LOADED[key] = factory(directory)
        return _LOADED[key]


@dataclass
class LocalModel:
    """A transformers model with its tokenizer, on one device, for inference only."""

    model: Any
    tokenizer: Any
    device: str
    # A fast tokenizer sets its padding and truncation on the shared Rust object at each call, so two
    # retrieval threads tokenizing at once fail with "Already borrowed"; the forward pass needs no lock.
    _tokenizer_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def forward(self, texts: list[str], pairs: list[str] | None = None, *, max_length: int):
        """The model's output for one batch of texts (or of (text, pair) pairs), truncated to ``max_length``."""
        import torch

        with self._tokenizer_lock:
            inputs = self.tokenizer(texts, pairs, padding=True, truncation=True, max_length=max_length,
                                    return_tensors="pt")
        with torch.inference_mode():
            return self.model(**inputs.to(self.device))


def load_local(directory: str, auto_class: str, what: str) -> LocalModel:
    """``transformers.<auto_class>`` and its tokenizer from ``directory``: on the GPU in fp16 when there
    is one, else on the CPU in fp32. Raises :class:`knowledge.extras.MissingExtra` without the ``models`` extra."""
    require("models", what, modules=("torch", "transformers"))
    import torch
    import transformers

    # local_files_only: a directory missing a file fails here rather than falling back to the hub.
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = getattr(transformers, auto_class).from_pretrained(directory, local_files_only=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        model = model.half()
    return LocalModel(model.to(device).eval(), tokenizer, device)
