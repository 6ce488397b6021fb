"""Importing an optional extra's library in a test module: a skip on a developer's partial install, a
failure in CI.

``pytest.importorskip`` alone let a broken extra (FlagEmbedding no longer importing under the
transformers the extras resolve to) turn the dense and rerank tests into two quiet skips on every CI
run. CI installs every extra (scripts/test.sh), so there a library that does not import is a bug.
Skip reasons show with ``pytest -rs``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    """CI sets ``CI`` (GitHub Actions, GitLab and most others set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_module(name: str, extra: str) -> ModuleType:
    """The imported module; without it, fail in CI and skip elsewhere, saying which extra provides it.
    Meant for a test module's top level (the skip skips the whole module)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # absent, or present but broken: both fail the import
        error = exc  # reported below, outside the handler: the reason alone, no chained traceback
    reason = f'{name} does not import ({type(error).__name__}: {error}); it comes with pip install -e ".[{extra}]"'
    if in_ci():
        pytest.fail(f"CI installs every extra: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
