"""Per-task training configurations (``configs.toml``) as a typed object."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

CONFIG_FILE = Path(__file__).parent / "configs.toml"


@dataclass
class TrainConfig:
    name: str
    tasks: list[str]
    base_model: str
    max_source_len: int
    max_target_len: int
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: list[str] = field(default_factory=list)
    learning_rate: float = 2e-4
    num_epochs: float = 2
    max_steps: int = -1
    batch_size: int = 16
    grad_accum: int = 1
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    bf16: bool = True
    gradient_checkpointing: bool = True
    logging_steps: int = 10
    seed: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def config_names(path: Path = CONFIG_FILE) -> list[str]:
    return [k for k in tomllib.loads(path.read_text(encoding="utf-8")) if k != "defaults"]


def load_config(name: str, overrides: dict | None = None, path: Path = CONFIG_FILE) -> TrainConfig:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if name not in data or name == "defaults":
        raise KeyError(f"no training config {name!r}; known: {', '.join(config_names(path))}")
    merged = {**data.get("defaults", {}), **data[name], **(overrides or {})}
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = set(merged) - set(known)
    if unknown:
        raise KeyError(f"unknown config keys: {sorted(unknown)}")
    return TrainConfig(name=name, **{k: v for k, v in merged.items() if k != "name"})


def parse_override(item: str, config_cls=TrainConfig) -> tuple[str, object]:
    """``key=value`` from the command line, typed like the field it sets (lists comma-separated)."""
    key, sep, raw = item.partition("=")
    types = {f.name: f.type for f in fields(config_cls)}
    if not sep or key not in types:
        raise ValueError(f"bad override {item!r}: expected key=value with key in {sorted(types)}")
    kind = types[key]
    if kind == "bool":
        return key, raw.lower() in ("1", "true", "yes")
    if kind == "int":
        return key, int(raw)
    if kind == "float":
        return key, float(raw)
    if kind.startswith("list"):
        return key, [x for x in raw.split(",") if x]
    return key, raw
