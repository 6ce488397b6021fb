"""Loading local model directories, once per process, without ever reaching a model hub.

The heavy imports (torch, FlagEmbedding) happen here, inside functions, so the core and the embedded
path never import them. Loaded models are kept per directory: loading bge-large takes seconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def use_fp16() -> bool:
    import torch

    return bool(torch.cuda.is_available())
