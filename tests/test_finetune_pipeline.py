"""The whole fine-tuning pipeline offline on CPU: build data → LoRA-train a tiny random Qwen2 a few steps
(loss goes down) → save → reload with peft → generate → evaluate → export for vLLM (+ merge).

The model and its tokenizer are made here, from a config and from the generated data: nothing is
downloaded. The tokenizer is a small byte-level BPE trained on the generated data, with a Qwen-style
chat template.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

import typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from finetune.config import load_config  # noqa: E402
from finetune.data.build import build_all, read_jsonl  # noqa: E402
from finetune.data.records import TASKS  # noqa: E402
from finetune.tiny import bpe_tokenizer as tiny_bpe_tokenizer  # noqa: E402

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def bpe_tokenizer(texts: list[str]):
    """A byte-level BPE trained on the generated data with Qwen2's own pre-tokenizer, so that
    ``AutoTokenizer`` (which rebuilds a Qwen2Tokenizer from vocab and merges) reads it back unchanged:
    the tiny models' builder, with this test's plain chat template and no tool tags."""
    return tiny_bpe_tokenizer(texts, vocab_size=2000, chat_template=CHAT_TEMPLATE, added_tokens=())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("pipeline")
    data = root / "data"
    build_all(data, bench_dir=None, store_companies=30, scale=0.05, seed=2)
    texts = [m["content"] for task in TASKS for split in ("train", "dev")
             for r in read_jsonl(data / task / f"{split}.jsonl") for m in r["messages"]]
    tokenizer = bpe_tokenizer(texts)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False,
    )
    base = root / "tiny-qwen2"
    transformers.Qwen2ForCausalLM(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    return root, data, base


# Small, fast and loud: a high constant learning rate so a dozen steps show the loss falling.
TINY = dict(grad_accum=1, learning_rate=1e-2, logging_steps=1, lora_r=8, lora_alpha=16, lora_dropout=0.0,
            warmup_ratio=0.0, lr_scheduler="constant", bf16=False, gradient_checkpointing=False)


def _config(name: str, base, **overrides):
    return load_config(name, {**TINY, "base_model": str(base), "max_steps": 12, "batch_size": 8, **overrides})


def _app() -> typer.Typer:
    from finetune.cli import register

    app, bench = typer.Typer(), typer.Typer()
    app.add_typer(bench, name="bench")
    register(app, bench)
    return app


@pytest.fixture(scope="module")
def intent_adapter(setup):
    from finetune.train import train

    root, data, base = setup
    out = root / "adapters" / "intent"
    summary = train(_config("intent", base), data, out, limit=240)
    return out, summary


def test_train_lowers_the_loss_and_saves_an_adapter(intent_adapter):
    out, summary = intent_adapter
    losses = summary["losses"]
    assert summary["steps"] == 12 and len(losses) == 12
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    # A random model starts near ln(vocab) ≈ 7; the LoRA has to pull it clearly lower.
    assert last < first - 0.3, losses
    assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
    assert json.loads((out / "train_summary.json").read_text())["config"]["max_source_len"] == 512


def test_loss_is_on_answer_tokens_only(setup):
    from finetune.train import IGNORE, encode

    _, data, base = setup
    tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    record = read_jsonl(data / "intent" / "train.jsonl")[0]
    enc = encode(tokenizer, record["messages"], 512, 128)
    answer = [t for t in enc.labels if t != IGNORE]
    assert tokenizer.decode(answer) == record["messages"][2]["content"] + "<|im_end|>"
    assert enc.labels[: len(enc.labels) - len(answer)] == [IGNORE] * (len(enc.labels) - len(answer))
    assert encode(tokenizer, record["messages"], 10, 128) == "source"


def test_reload_with_peft_and_generate(intent_adapter, setup):
    from finetune.evaluate import load_adapter

    out, _ = intent_adapter
    _, data, _ = setup
    model, tokenizer = load_adapter(out)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # trained weights came back (they start at 0)
    batch = tokenizer(["<|im_start|>user\n2020年四方科技营业收入是多少？<|im_end|>\n<|im_start|>assistant\n"],
                      return_tensors="pt", add_special_tokens=False)
    generated = model.generate(**batch, max_new_tokens=6, min_new_tokens=6, do_sample=False,
                               pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] == batch["input_ids"].shape[1] + 6
    result = CliRunner().invoke(_app(), ["finetune", "eval", str(out), "--data", str(data), "--task", "intent",
                                         "--task", "nl2sql", "--limit", "4", "--max-new-tokens", "12", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["intent"]["n"] == 4 and 0.0 <= report["intent"]["accuracy"] <= 1.0
    # Random-weight SQL does not run: it must count as wrong, not crash the evaluation.
    assert report["nl2sql"]["n"] == 4 and 0.0 <= report["nl2sql"]["exec_accuracy"] <= report["nl2sql"]["executable"] + 1e-9


def test_multitask_single_adapter_from_the_cli(setup):
    root, data, base = setup
    out = root / "adapters" / "multitask"
    overrides = [f"{k}={v}" for k, v in TINY.items()] + ["max_steps=2", "batch_size=2", "target_modules=q_proj,v_proj"]
    result = CliRunner().invoke(_app(), ["finetune", "train", "multitask", "--data", str(data), "--out", str(out),
                                         "--base-model", str(base), *[a for o in overrides for a in ("--set", o)]])
    assert result.exit_code == 0, result.output
    assert "loss" in result.output
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["config"]["tasks"] == ["intent", "nl2sql", "keywords"]
    assert summary["config"]["target_modules"] == ["q_proj", "v_proj"]
    sizes = sum(len(read_jsonl(data / t / "train.jsonl")) for t in summary["config"]["tasks"])
    skipped = summary["skipped_over_budget"]
    assert summary["examples"] + skipped["source"] + skipped["target"] == sizes
    assert summary["steps"] == 2


def test_export_for_vllm_and_merge(intent_adapter, tmp_path):
    from peft import PeftModel

    out, _ = intent_adapter
    result = CliRunner().invoke(_app(), ["finetune", "export", str(out), "--name", "intent", "--out", str(tmp_path), "--merge"])
    assert result.exit_code == 0, result.output
    args = (tmp_path / "vllm-args.txt").read_text()
    assert f"intent={(tmp_path / 'intent').resolve()}" in args and "--enable-lora" in args
    merged = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "intent-merged")
    base_path = json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
    peft_model = PeftModel.from_pretrained(transformers.AutoModelForCausalLM.from_pretrained(base_path), str(tmp_path / "intent"))
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft_model(ids).logits, atol=1e-4)
