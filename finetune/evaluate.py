"""Dev-split evaluation: intent accuracy, NL2SQL execution accuracy, keyword exact match.

Execution accuracy compares result sets on the synthetic store the targets were built on: a generated
SQL counts as right when it runs and returns the same multiset of rows as the target (row order and
column names are ignored; floats are compared to 6 significant digits).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from finetune.train import load_records, prompt_text
from knowledge.store import Store


def _norm(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def result_set(store: Store, sql: str) -> Counter | None:
    """The rows ``sql`` returns as a multiset, or None when it does not run."""
    try:
        _, rows = store.readonly_query(sql)
    except Exception:  # any failure of generated SQL counts as a wrong answer, not as a crash
        return None
    return Counter(tuple(_norm(v) for v in row) for row in rows)


def parse_intent(text: str) -> str:
    """The label in ``{"intent": "..."}``; a bare label is accepted too."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text.strip()
    return str(value.get("intent", "")) if isinstance(value, dict) else str(value)


def intent_accuracy(predictions: list[str], records: list[dict]) -> dict:
    golds = [r["meta"]["label"] for r in records]
    per_class: dict[str, list[int]] = {}
    for pred, gold in zip(predictions, golds):
        per_class.setdefault(gold, []).append(int(parse_intent(pred) == gold))
    hits = sum(sum(v) for v in per_class.values())
    return {"n": len(golds), "accuracy": hits / max(len(golds), 1),
            "per_class": {k: round(sum(v) / len(v), 4) for k, v in sorted(per_class.items())}}


def exec_accuracy(predictions: list[str], records: list[dict], store: Store) -> dict:
    hits = ran = 0
    per_pattern: dict[str, list[int]] = {}
    for pred, r in zip(predictions, records):
        gold = result_set(store, r["messages"][-1]["content"])
        if gold is None:
            raise ValueError(f"dev target does not execute: {r['messages'][-1]['content']}")
        got = result_set(store, pred.strip())
        ran += got is not None
        ok = int(got == gold)
        hits += ok
        per_pattern.setdefault(r["meta"]["pattern"], []).append(ok)
    n = len(records)
    return {"n": n, "exec_accuracy": hits / max(n, 1), "executable": ran / max(n, 1),
            "per_pattern": {k: round(sum(v) / len(v), 4) for k, v in sorted(per_pattern.items())}}


def keywords_match(predictions: list[str], records: list[dict]) -> dict:
    def parse(text: str):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, TypeError):
            return None

    hits = sum(parse(p) == parse(r["messages"][-1]["content"]) for p, r in zip(predictions, records))
    return {"n": len(records), "exact_match": hits / max(len(records), 1)}


def generate(model, tokenizer, records: list[dict], max_new_tokens: int, batch_size: int = 8) -> list[str]:
    """Greedy answers for ``records`` (their assistant turn is dropped)."""
    import torch

    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    outputs: list[str] = []
    model.eval()
    for start in range(0, len(records), batch_size):
        texts = [prompt_text(tokenizer, r["messages"]) for r in records[start:start + batch_size]]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        outputs += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return outputs


def load_adapter(adapter_dir: Path, base_model: str | None = None):
    """Base model + LoRA adapter (base from the adapter's own config unless given)."""
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = base_model or PeftConfig.from_pretrained(str(adapter_dir)).base_model_name_or_path
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16 if cuda else torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter_dir))
    if cuda:
        model = model.to("cuda")
    return model, AutoTokenizer.from_pretrained(str(adapter_dir))


def evaluate(adapter_dir: Path, data_dir: Path, tasks: list[str], *, base_model: str | None = None,
             limit: int | None = None, batch_size: int = 8, max_new_tokens: int = 256) -> dict:
    model, tokenizer = load_adapter(adapter_dir, base_model)
    store = Store(f"sqlite:///{Path(data_dir) / 'synthetic.sqlite'}") if "nl2sql" in tasks else None
    report = {}
    for task in tasks:
        records = load_records(data_dir, [task], "dev")[: limit or None]
        preds = generate(model, tokenizer, records, max_new_tokens, batch_size)
        if task == "intent":
            report[task] = intent_accuracy(preds, records)
        elif task == "nl2sql":
            report[task] = exec_accuracy(preds, records, store)
        else:
            report[task] = keywords_match(preds, records)
        report[task]["examples"] = [{"question": r["messages"][1]["content"][-80:], "gold": r["messages"][-1]["content"], "pred": p}
                                    for r, p in list(zip(records, preds))[:3]]
    return report
