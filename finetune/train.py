"""LoRA training with peft and transformers' Trainer; the loss is on the answer tokens only.

Each chat record is rendered with the base model's own chat template: the prompt is the template up to
and including the assistant header (``add_generation_prompt=True``), the target is the answer plus the
tokenizer's end-of-turn token. Prompt positions get label -100, so the model is never trained to
reproduce the schema or the question.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from finetune.config import TrainConfig
from finetune.data.build import read_jsonl

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The model input for a record (everything before the assistant's answer)."""
    return tokenizer.apply_chat_template(messages[:-1] if messages[-1]["role"] == "assistant" else messages,
                                         tokenize=False, add_generation_prompt=True)


def encode(tokenizer, messages: list[dict], max_source_len: int, max_target_len: int) -> Encoded | str:
    """Token ids and labels of one record, or the reason it does not fit ("source" / "target")."""
    source = tokenizer(prompt_text(tokenizer, messages), add_special_tokens=False)["input_ids"]
    target = tokenizer(messages[-1]["content"] + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    if len(source) > max_source_len:
        return "source"
    if len(target) > max_target_len:
        return "target"
    return Encoded(source + target, [IGNORE] * len(source) + target)


def load_records(data_dir: Path, tasks: list[str], split: str) -> list[dict]:
    records = []
    for task in tasks:
        path = Path(data_dir) / task / f"{split}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `nianbao finetune build-data` first")
        records += read_jsonl(path)
    return records


class Collator:
    """Right-pads a batch; padded positions are masked out of attention and loss."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        ids, labels, mask = [], [], []
        for b in batch:
            pad = width - len(b["input_ids"])
            ids.append(b["input_ids"] + [self.pad_id] * pad)
            labels.append(b["labels"] + [IGNORE] * pad)
            mask.append([1] * len(b["input_ids"]) + [0] * pad)
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


def train(config: TrainConfig, data_dir: Path, out_dir: Path, *, limit: int | None = None) -> dict:
    """Train one adapter on ``config.tasks`` and save it (peft format) with its tokenizer in ``out_dir``.
    Returns the run summary (also written to ``out_dir/train_summary.json``)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
    )

    started = time.time()
    out_dir = Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    records = load_records(data_dir, config.tasks, "train")
    if limit:
        records = records[:limit]
    dataset, skipped = [], {"source": 0, "target": 0}
    for r in records:
        enc = encode(tokenizer, r["messages"], config.max_source_len, config.max_target_len)
        if isinstance(enc, str):
            skipped[enc] += 1
        else:
            dataset.append({"input_ids": enc.input_ids, "labels": enc.labels})
    if not dataset:
        raise ValueError(f"no training example fits max_source_len={config.max_source_len} / max_target_len={config.max_target_len}")

    cuda = torch.cuda.is_available()
    bf16 = config.bf16 and cuda and torch.cuda.is_bf16_supported()
    model = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=torch.bfloat16 if bf16 else torch.float32)
    if config.gradient_checkpointing and cuda:
        # Non-reentrant checkpointing works with frozen base weights; the input grads keep the
        # reentrant fallback (older torch) from cutting the graph at the frozen embeddings.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules), task_type="CAUSAL_LM",
    ))
    steps_per_epoch = max(1, len(dataset) // (config.batch_size * config.grad_accum))
    total_steps = config.max_steps if config.max_steps > 0 else int(steps_per_epoch * config.num_epochs)
    args = TrainingArguments(
        output_dir=str(out_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        num_train_epochs=config.num_epochs,
        max_steps=config.max_steps,
        warmup_steps=int(total_steps * config.warmup_ratio),
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to=[],
        bf16=bf16,
        use_cpu=not cuda,
        seed=config.seed,
        remove_unused_columns=False,  # the collator needs "labels" as built here
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=Collator(tokenizer.pad_token_id))
    trainer.train()
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "config": json.loads(config.to_json()),
        "data_dir": str(data_dir),
        "examples": len(dataset),
        "skipped_over_budget": skipped,
        "steps": trainer.state.global_step,
        "losses": losses,
        "seconds": round(time.time() - started, 1),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
    }
    (out_dir / "train_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary
