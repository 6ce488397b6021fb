"""One configuration object for the whole system.

Read, in order of precedence: explicit keyword arguments, environment variables (``NIANBAO_*``; nested
values with ``__``, e.g. ``NIANBAO_LLM__BASE_URL``), then an optional TOML file (``NIANBAO_CONFIG`` or
``$NIANBAO_HOME/config.toml``). With no LLM endpoint configured the system runs in *embedded* mode: every
node takes its deterministic path.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_home() -> Path:
    return Path(os.environ.get("NIANBAO_HOME") or Path.home() / ".nianbao").expanduser()


class LLMSettings(BaseModel):
    """OpenAI-compatible endpoints (vLLM serves LoRA adapters under their own model names)."""

    base_url: str | None = None
    api_key: str = "EMPTY"
    # A separate endpoint for the 7B base + adapters; defaults to base_url.
    adapters_base_url: str | None = None
    answer_model: str = "nianbao-answer"
    intent_model: str = "intent"
    nl2sql_model: str = "nl2sql"
    keywords_model: str = "keywords"
    timeout_s: float = 30.0  # one socket wait (connect, or a read: a byte resets it)
    max_retries: int = 2
    # Wall-clock budgets, across connecting, retries and a stream (graph.llm): one LLM call, and all the
    # calls of one turn together. Past either, the node answers on its deterministic path.
    call_deadline_s: float = Field(20.0, gt=0)
    turn_deadline_s: float = Field(45.0, gt=0)
    temperature: float = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)

    def url_for(self, role: str) -> str | None:
        if role == "answer":
            return self.base_url
        return self.adapters_base_url or self.base_url


class RetrievalSettings(BaseModel):
    """Local model directories; nothing is ever downloaded from a hub."""

    embedding_model_dir: str | None = None
    reranker_model_dir: str | None = None
    chroma_url: str | None = None  # http(s)://host:port of a Chroma server; embedded client otherwise
    top_k: int = 5


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NIANBAO_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None  # default: sqlite file in the home
    checkpoint_url: str | None = None  # PostgreSQL URL for threads; default: database_url if PostgreSQL, else the home
    sql_timeout_s: float = 5.0
    llm: LLMSettings = Field(default_factory=LLMSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("NIANBAO_CONFIG") or str(_default_home() / "config.toml")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_path))

    # Derived locations -------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'nianbao.sqlite'}"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "threads.sqlite"

    @property
    def postgres_checkpoint_conninfo(self) -> str | None:
        """Where threads live when not in the home's SQLite file: ``checkpoint_url``, else a
        PostgreSQL ``database_url`` (as a libpq URL, without SQLAlchemy's driver suffix)."""
        url = self.checkpoint_url or (self.database_url if (self.database_url or "").startswith("postgresql") else None)
        if not url:
            return None
        scheme, _, rest = url.partition("://")
        return "postgresql://" + rest

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def mode(self) -> str:
        return "llm" if self.llm.enabled else "embedded"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()


def settings_from_config(config: dict[str, Any] | None) -> Settings:
    """Settings for a graph run: ``config["configurable"]["settings"]`` if given, else the process's."""
    configurable = (config or {}).get("configurable", {}) if config else {}
    settings = configurable.get("settings")
    if isinstance(settings, Settings):
        return settings
    return get_settings()
