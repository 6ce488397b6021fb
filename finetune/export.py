"""Lay trained adapters out for vLLM (``--enable-lora --lora-modules name=path``), optionally merged.

``out_root/<name>/`` holds one adapter (adapter_config.json + weights + tokenizer); after every export
``out_root/vllm-args.txt`` is rewritten with the flags that serve every adapter under ``out_root``.
The role names the agent asks for (``settings.llm.intent_model`` etc., default intent / nl2sql /
keywords) must be the names used here. ``--merge`` additionally writes ``out_root/<name>-merged/``, a
full model with the adapter folded in (merge_and_unload), for serving without LoRA support.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from finetune.evaluate import load_adapter

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
ARGS_FILE = "vllm-args.txt"


def export_adapter(adapter_dir: Path, out_root: Path, name: str, *, merge: bool = False,
                   base_model: str | None = None) -> dict:
    adapter_dir, out_root = Path(adapter_dir), Path(out_root)
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{adapter_dir} is not a peft adapter (no adapter_config.json)")
    target = out_root / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in adapter_dir.iterdir():
        # Training checkpoints stay behind; the adapter, its tokenizer and the run summary travel.
        if path.is_file():
            shutil.copy2(path, target / path.name)
    result = {"name": name, "adapter": str(target.resolve())}
    if merge:
        result["merged"] = str(merge_adapter(target, out_root / f"{name}-merged", base_model).resolve())
    result["vllm_args"] = write_vllm_args(out_root)
    return result


def merge_adapter(adapter_dir: Path, out_dir: Path, base_model: str | None = None) -> Path:
    model, tokenizer = load_adapter(adapter_dir, base_model)
    merged = model.merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


def write_vllm_args(out_root: Path) -> str:
    """The vLLM flags for every adapter under ``out_root`` (one base model, one LoRA per directory)."""
    adapters = sorted(p for p in Path(out_root).iterdir() if (p / "adapter_config.json").exists())
    configs = [json.loads((p / "adapter_config.json").read_text(encoding="utf-8")) for p in adapters]
    bases = sorted({c.get("base_model_name_or_path", "") for c in configs})
    max_rank = max((int(c.get("r", 16)) for c in configs), default=16)
    modules = " ".join(f"{p.name}={p.resolve()}" for p in adapters)
    # vLLM refuses adapters whose rank exceeds --max-lora-rank (default 16).
    args = f"--enable-lora --max-lora-rank {max(16, max_rank)} --max-loras {max(1, len(adapters))} --lora-modules {modules}"
    text = f"# base model(s): {', '.join(bases)}\n{args}\n"
    (Path(out_root) / ARGS_FILE).write_text(text, encoding="utf-8")
    return args
