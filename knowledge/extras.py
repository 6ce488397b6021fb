"""Which optional extra (``pyproject.toml``) provides which library, and the polite error when one is missing.

A command that needs an extra calls :func:`require` before it imports anything from it; the CLI turns
:class:`MissingExtra` into one line naming the install command, and exit code 2 — never a traceback.
"""

from __future__ import annotations

import importlib

# extra → the modules a command of that extra imports (what `pip install -e ".[extra]"` brings).
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "uvicorn"),
    "models": ("torch", "transformers", "chromadb"),
    "finetune": ("torch", "transformers", "peft", "datasets", "accelerate"),
    "postgres": ("psycopg", "langgraph.checkpoint.postgres"),
    "gpu": ("gptqmodel",),
    "ray": ("ray",),
}

EXIT_CODE = 2


class MissingExtra(RuntimeError):
    """An optional dependency is not installed (or does not import)."""

    def __init__(self, extra: str, module: str, what: str | None = None, cause: BaseException | None = None):
        self.extra, self.module = extra, module
        needed = f"{what} needs" if what else "this needs"
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None and not isinstance(
            cause, ModuleNotFoundError) else ""
        super().__init__(f'{needed} the optional dependency "{module}" of the [{extra}] extra{detail}. '
                         f'Install it with: pip install -e ".[{extra}]"')


def require(extra: str, what: str | None = None, modules: tuple[str, ...] | None = None) -> None:
    """Import each module of ``extra`` (or only ``modules``); raise :class:`MissingExtra` on the first
    that fails. Importing — not just finding — catches installs that are present but broken."""
    for module in modules or EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtra(extra, module, what, exc) from exc
